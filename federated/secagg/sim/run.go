package sim

import (
	"errors"
	"slices"

	"github.com/privml/privml/federated/secagg"
)

func (r *runner) run(inputs Inputs) error {
	srv := r.srv
	x := make([]int64, r.p.Length())
	target := uint32(r.opts.Target)

	// Round 1: AdvertiseKeys.
	const r1 = secagg.RoundAdvertise
	r.timeClients(r1, r.live(r1), nil, func(i int) [][]byte {
		a, err := r.parties[i].c.Advertise()
		if err != nil {
			r.clientFailed(i, err)
			return nil
		}
		if tw := r.parties[i].twin; tw != nil {
			_, _ = tw.Advertise() // same randomness: the same advert
		}
		return r.up(i, r1, a)
	}, func(m [][]byte) { serve(r, m, srv.HandleAdvert) })
	var lists map[int]*secagg.AdvertList
	var err error
	r.timeServer(r1, func() { lists, err = srv.FinishAdvertise() })
	if err != nil {
		return err
	}
	if r.opts.Server == DuplicateAdvert {
		for _, l := range lists {
			for k, a := range l.Adverts {
				if a.Client == target {
					l.Adverts = slices.Insert(slices.Clone(l.Adverts), k, a)
					break
				}
			}
		}
	}

	// Round 2: ShareKeys.
	const r2 = secagg.RoundShareKeys
	r.timeClients(r2, r.live(r2), nil, func(i int) [][]byte {
		l, ok := lists[i]
		if !ok {
			return nil // the server did not hear this client's advert
		}
		var in secagg.AdvertList
		if err := r.down(i, l, &in); err != nil {
			r.clientFailed(i, err)
			return nil
		}
		m, err := r.parties[i].c.ShareKeys(&in)
		if err != nil {
			r.clientFailed(i, err)
			return nil
		}
		if tw := r.parties[i].twin; tw != nil {
			_, _ = tw.ShareKeys(&in)
		}
		return r.up(i, r2, m)
	}, func(m [][]byte) { serve(r, m, srv.HandleShareKeys) })
	var bundles map[int]*secagg.ShareBundle
	r.timeServer(r2, func() { bundles, err = srv.FinishShareKeys() })
	if err != nil {
		return err
	}
	if r.opts.Server == ReplayOldSession {
		if err := r.replaceWithOldBundles(bundles); err != nil {
			return err
		}
	}

	// Round 3: MaskedInputCollection.
	const r3 = secagg.RoundMaskedInput
	r.timeClients(r3, r.live(r3), func(i int) { inputs(i, x) }, func(i int) [][]byte {
		b, ok := bundles[i]
		if !ok {
			return nil
		}
		var in secagg.ShareBundle
		if err := r.down(i, b, &in); err != nil {
			r.clientFailed(i, err)
			return nil
		}
		m, err := r.parties[i].c.MaskInput(&in, x)
		if err != nil {
			r.clientFailed(i, err)
			return nil
		}
		if tw := r.parties[i].twin; tw != nil {
			_, _ = tw.MaskInput(&in, x)
		}
		return r.up(i, r3, m)
	}, func(m [][]byte) { serve(r, m, srv.HandleMaskedInput) })
	r.timeServer(r3, func() { err = srv.FinishMaskedInput() })
	if err != nil {
		return err
	}
	if r.opts.Server == SplitView {
		return r.splitView(bundles, int(target))
	}

	// Round 4 (malicious model): ConsistencyCheck.
	if r.p.Config().Threat == secagg.Malicious {
		const r4 = secagg.RoundConsistency
		var reqs map[int]*secagg.ConsistencyRequest
		r.timeServer(r4, func() { reqs, err = srv.ConsistencyRequests() })
		if err != nil {
			return err
		}
		if r.opts.Server == InconsistentDropouts {
			half := r.splitNeighbours(int(target))
			for j, q := range reqs {
				if half[j] {
					q2 := *q
					q2.Survivors = slices.DeleteFunc(slices.Clone(q.Survivors), func(v uint32) bool { return v == target })
					reqs[j] = &q2
				}
			}
		}
		lying := r.opts.Server == InconsistentDropouts
		replies := map[int][]byte{}
		r.timeClients(r4, r.live(r4), nil, func(i int) [][]byte {
			q, ok := reqs[i]
			if !ok {
				return nil
			}
			var in secagg.ConsistencyRequest
			if err := r.down(i, q, &in); err != nil {
				r.clientFailed(i, err)
				return nil
			}
			m, err := r.parties[i].c.Consistency(&in)
			if err != nil {
				r.clientFailed(i, err)
				return nil
			}
			return r.up(i, r4, m)
		}, func(m [][]byte) {
			if lying {
				// A lying server keeps whatever it is sent.
				serve(r, m, func(c *secagg.ConsistencyReply) error {
					replies[int(c.Client)] = c.Signature
					return nil
				})
				return
			}
			serve(r, m, srv.HandleConsistency)
		})
		if !lying {
			r.timeServer(r4, func() { err = srv.FinishConsistency() })
		}
		if err != nil {
			return err
		}
		if lying {
			return r.lyingUnmask(reqs, bundles, replies, target)
		}
	}

	// Round 5: Unmasking.
	const r5 = secagg.RoundUnmask
	var reqs map[int]*secagg.UnmaskRequest
	r.timeServer(r5, func() { reqs, err = srv.UnmaskRequests() })
	if err != nil {
		return err
	}
	r.tamperUnmask(reqs, target)
	r.timeClients(r5, r.live(r5), nil, func(i int) [][]byte {
		q, ok := reqs[i]
		if !ok {
			return nil
		}
		var in secagg.UnmaskRequest
		if err := r.down(i, q, &in); err != nil {
			r.clientFailed(i, err)
			return nil
		}
		m, err := r.parties[i].c.Unmask(&in)
		if err != nil {
			r.clientFailed(i, err)
			return nil
		}
		r.countRevealed(m, target)
		raw := r.up(i, r5, m)
		if r.opts.Server == ReplayUnmask {
			q2 := flipTarget(q, target)
			var in2 secagg.UnmaskRequest
			if err := r.down(i, q2, &in2); err == nil {
				if m2, err := r.parties[i].c.Unmask(&in2); err != nil {
					r.rep.ClientErrors[i] = err
				} else {
					r.countRevealed(m2, target)
				}
			}
		}
		return raw
	}, func(m [][]byte) {
		if r.opts.Server == Honest {
			serve(r, m, srv.HandleUnmask)
			return
		}
		// A lying server's requests differ from what its own state
		// expects, so it keeps the shares rather than handing them in.
		serve(r, m, func(*secagg.UnmaskResponse) error { return nil })
	})
	var res *secagg.Result
	r.timeServer(r5, func() { res, err = srv.Finish() })
	if err != nil {
		return err
	}
	r.rep.Result = res
	return nil
}

// splitNeighbours returns half of the target's neighbours (every other one
// in id order).
func (r *runner) splitNeighbours(target int) map[int]bool {
	half := map[int]bool{}
	for k, j := range r.p.Neighbours(target) {
		if k%2 == 0 {
			half[j] = true
		}
	}
	return half
}

func (r *runner) tamperUnmask(reqs map[int]*secagg.UnmaskRequest, target uint32) {
	switch r.opts.Server {
	case AskBothShares:
		for j, q := range reqs {
			if _, alive := slices.BinarySearch(q.Alive, target); alive {
				q2 := *q
				q2.Dropped = insertSorted(slices.Clone(q.Dropped), target)
				reqs[j] = &q2
			}
		}
	case InconsistentDropouts:
		half := r.splitNeighbours(int(target))
		for j, q := range reqs {
			if half[j] {
				reqs[j] = flipTarget(q, target)
			}
		}
	}
}

// flipTarget returns a copy of q in which target moved from alive to
// dropped.
func flipTarget(q *secagg.UnmaskRequest, target uint32) *secagg.UnmaskRequest {
	q2 := *q
	if _, alive := slices.BinarySearch(q.Alive, target); alive {
		q2.Alive = slices.DeleteFunc(slices.Clone(q.Alive), func(v uint32) bool { return v == target })
		q2.Dropped = insertSorted(slices.Clone(q.Dropped), target)
	}
	return &q2
}

func insertSorted(s []uint32, v uint32) []uint32 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func (r *runner) countRevealed(m *secagg.UnmaskResponse, target uint32) {
	for _, s := range m.SelfShares {
		if s.Owner == target && int(target) != int(m.Client) {
			r.rep.Revealed.Self++
		}
	}
	for _, s := range m.KeyShares {
		if s.Owner == target {
			r.rep.Revealed.Key++
		}
	}
}

// replaceWithOldBundles runs the first two rounds of another session of the
// same clients (the next aggregation) and delivers its bundles instead.
func (r *runner) replaceWithOldBundles(bundles map[int]*secagg.ShareBundle) error {
	cfg := r.p.Config()
	cfg.Sequence++
	p2, err := secagg.NewParams(cfg)
	if err != nil {
		return err
	}
	srv, err := secagg.NewServer(p2)
	if err != nil {
		return err
	}
	cs := make([]*secagg.Client, p2.NumClients())
	for i := range cs {
		if cs[i], err = secagg.NewClient(p2, i, clientOptions(p2, r.opts, i)); err != nil {
			return err
		}
		a, err := cs[i].Advertise()
		if err != nil {
			return err
		}
		if err := srv.HandleAdvert(a); err != nil {
			return err
		}
	}
	lists, err := srv.FinishAdvertise()
	if err != nil {
		return err
	}
	for i, c := range cs {
		m, err := c.ShareKeys(lists[i])
		if err != nil {
			return err
		}
		if err := srv.HandleShareKeys(m); err != nil {
			return err
		}
	}
	old, err := srv.FinishShareKeys()
	if err != nil {
		return err
	}
	for j := range bundles {
		bundles[j] = old[j]
	}
	return nil
}

// lyingUnmask plays the malicious-model InconsistentDropouts server at
// unmasking: each client that signed gets the view it was shown in the
// consistency round, with every signature its neighbours sent.
func (r *runner) lyingUnmask(creqs map[int]*secagg.ConsistencyRequest, bundles map[int]*secagg.ShareBundle, replies map[int][]byte, target uint32) error {
	const r5 = secagg.RoundUnmask
	for j := range replies {
		if !r.parties[j].dead && r.drop[r5][j] {
			r.parties[j].dead = true
		}
	}
	for j := range r.parties {
		if _, ok := replies[j]; !ok || r.parties[j].dead {
			continue
		}
		view := creqs[j].Survivors
		q := &secagg.UnmaskRequest{Client: uint32(j), Session: creqs[j].Session, Survivors: view}
		for _, v := range r.p.Neighbours(j) {
			if _, inU2 := bundles[v]; !inU2 {
				continue
			}
			if _, alive := slices.BinarySearch(view, uint32(v)); alive {
				q.Alive = append(q.Alive, uint32(v))
			} else {
				q.Dropped = append(q.Dropped, uint32(v))
			}
			if s, ok := replies[v]; ok {
				q.Signatures = append(q.Signatures, secagg.SignedSurvivors{Client: uint32(v), Signature: s})
			}
		}
		var in secagg.UnmaskRequest
		if err := r.down(j, q, &in); err != nil {
			r.clientFailed(j, err)
			continue
		}
		m, err := r.parties[j].c.Unmask(&in)
		if err != nil {
			r.clientFailed(j, err)
			continue
		}
		r.countRevealed(m, target)
	}
	return errLyingServer
}

// errLyingServer ends a run in which the simulated server lied: it cannot
// produce an honest result.
var errLyingServer = errors.New("sim: the server deviated from the protocol")
