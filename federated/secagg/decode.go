package secagg

import (
	"github.com/privml/privml/internal/shamir"
)

// Bad share holders. A holder that reveals a corrupted share makes the
// first t shares of a secret fail their check. Rather than search the
// t-subsets blindly (a few corrupt holders among the first t would exhaust
// any fixed budget), the server decodes the m shares as a Reed-Solomon
// codeword (shamir.FindErrors, unique decoding): up to (m-t)/2 wrong
// shares are located exactly, their holders are marked and their shares
// go last for this and every later secret. A round then fails only when a
// secret has more bad shares than unique decoding corrects and the
// bounded subset search that follows finds no clean t-subset either.

// firstTry reconstructs the secret from the first t shares of holders not
// caught so far and reports whether verify accepts it.
func (s *Server) firstTry(cache *lagrangeCache, shares []shamir.Share, from []int, u int, what string, verify func([]byte) bool) (bool, error) {
	t := s.p.t
	sub := make([]shamir.Share, 0, t)
	for _, caught := range []bool{false, true} {
		for i, h := range from {
			if len(sub) < t && s.suspect[h] == caught {
				sub = append(sub, shares[i])
			}
		}
	}
	l, err := cache.get(sub)
	if err != nil {
		return false, errorf(u, RoundUnmask, ErrProtocol, "shares of the %s of client %d: %v", what, u, err)
	}
	out, err := l.Combine(sub, secretLen)
	if err != nil {
		return false, nil
	}
	ok := verify(out)
	clear(out)
	return ok, nil
}

// decodeAndVerify locates the wrong shares by unique decoding,
// reconstructs the secret from t of the others and, if verify accepts it,
// marks the holders of the wrong shares as caught and reports true (verify
// is then not to be called again). Nobody is marked when decoding fails
// (more wrong shares than (m-t)/2) or its result does not verify (the
// errors happened to fit another polynomial): an honest holder is blamed
// only if more than (m-t)/2 holders of one secret collude to make a wrong
// polynomial both decode and match the commitment, which the hash
// commitment or the public key rules out.
func (s *Server) decodeAndVerify(cache *lagrangeCache, shares []shamir.Share, from []int, verify func([]byte) bool) bool {
	t := s.p.t
	bad, err := shamir.FindErrors(shares, t)
	if err != nil || len(bad) == 0 {
		return false
	}
	sub := make([]shamir.Share, 0, t)
	for i, k := 0, 0; i < len(shares) && len(sub) < t; i++ {
		if k < len(bad) && bad[k] == i {
			k++
			continue
		}
		sub = append(sub, shares[i])
	}
	l, err := cache.get(sub)
	if err != nil {
		return false
	}
	out, err := l.Combine(sub, secretLen)
	if err != nil {
		return false
	}
	ok := verify(out)
	clear(out)
	if !ok {
		return false
	}
	for _, i := range bad {
		if h := from[i]; !s.suspect[h] {
			s.suspect[h] = true
			s.caught = append(s.caught, h)
		}
	}
	return true
}
