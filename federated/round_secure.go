package federated

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"math"

	"github.com/privml/privml/federated/secagg"
)

// aggregateSecure runs the round's secure-aggregation session over the
// sampled clients and decodes the sum into delta.
func (s *Server) aggregateSecure(parts []*participant, delta []float64, rep *RoundReport) error {
	if len(parts) < max(2, s.cfg.MinReports) {
		return fmt.Errorf("%w: %d clients sampled, need %d", ErrTooFewReports, len(parts), max(2, s.cfg.MinReports))
	}
	cfg := secagg.Config{
		NumClients: len(parts), Bits: s.sec.Bits, Threat: s.sec.Threat,
		DropoutRate: s.sec.DropoutRate, CorruptRate: s.sec.CorruptRate,
		Sequence: uint64(s.round),
	}
	ss := &secureSession{fates: make([]DropStep, len(parts)), minInputs: s.cfg.MinReports, clock: s.cfg.Clock}
	for i, p := range parts {
		ss.fates[i] = p.fate
	}
	if s.cfg.InsecureSeed != nil {
		ss.rand = func(i int) io.Reader { return readerOf(s.stream("secagg", s.round, parts[i].id)) }
	}
	if s.sec.Threat == secagg.Malicious {
		cfg.Identities = nil
		for _, p := range parts {
			cfg.Identities = append(cfg.Identities, s.pubs[p.id])
		}
		ss.identity = func(i int) ed25519.PrivateKey { return s.ids[parts[i].id] }
		ss.sequences = func(i int) secagg.SequenceStore { return s.seqs[parts[i].id] }
		// The simulation plays the out-of-band channels: the clients learn
		// the roster digest from an enrolment service and derive the
		// session seed from a public beacon value, neither chosen by the
		// server (package secagg, ClientPolicy).
		roster := secagg.RosterDigest(cfg.Identities)
		var beacon [32]byte
		r := s.stream("beacon", s.round, 0)
		for i := range beacon {
			beacon[i] = byte(r.Uint32())
		}
		cfg.SessionSeed = secagg.BeaconSessionSeed(beacon[:], roster, cfg.Sequence)
		ss.policy = secagg.ClientPolicy{Roster: roster, SessionSeed: &cfg.SessionSeed,
			Threat: secagg.Malicious, MinInputs: s.cfg.MinReports, CorruptRate: s.sec.CorruptRate}
	} else {
		r := s.stream("session", s.round, 0)
		for i := range cfg.SessionSeed {
			cfg.SessionSeed[i] = byte(r.Uint32())
		}
	}
	if s.hooks.serverSum != nil {
		ss.observe = func(sum []int64) { s.hooks.serverSum(s.round, sum) }
	}
	var finish func(res *secagg.Result) error
	var err error
	switch s.cfg.DP.Mode {
	case DPDistributed:
		finish, err = s.distributedInputs(ss, &cfg, parts, delta)
	default:
		finish, err = s.fixedPointInputs(ss, &cfg, parts, delta)
	}
	if err != nil {
		return err
	}
	ss.cfg = cfg
	res, err := ss.run()
	rep.ClientTime, rep.ServerTime = ss.clientTime, ss.serverTime
	for _, p := range parts {
		if p.fate.reported() {
			rep.Reports++
		}
	}
	// The server knows the clipped fraction only from the secure sum.
	s.summedClipped = math.NaN()
	rep.Clipped = math.NaN()
	if err != nil {
		return fmt.Errorf("round %d: %w", s.round, err)
	}
	rep.Reports = len(res.Survivors)
	rep.Secure = true
	for _, i := range res.Survivors {
		id := parts[i].id
		s.inSums[id]++
		s.mostInSums = max(s.mostInSums, s.inSums[id])
	}
	t := s.cfg.Clock()
	err = finish(res)
	rep.ServerTime += s.cfg.Clock() - t
	rep.Clipped = s.summedClipped
	return err
}

// fixedPointInputs sets up the session without DP or with central DP:
// clipped updates through the [Codec]; the weight (no DP) or the clip
// indicator (adaptive clipping) as a side coordinate.
func (s *Server) fixedPointInputs(ss *secureSession, cfg *secagg.Config, parts []*participant, delta []float64) (func(*secagg.Result) error, error) {
	n, d := len(parts), len(delta)
	codec, err := NewCodec(s.clip, s.sec.Bits, n)
	if err != nil {
		return nil, err
	}
	cfg.Dim = d
	mode := s.cfg.DP.Mode
	side := mode == DPNone || s.cfg.DP.Adaptive != nil
	if side {
		cfg.SideDim = 1
	}
	if mode == DPNone {
		cfg.SideDim = 2 // the weight, and the clip indicator counted in the sum
	}
	wScale := float64(codec.MaxAbs-1) / s.sec.MaxWeight
	ss.input = func(i int) ([]int64, error) {
		p := parts[i]
		x := make([]int64, cfg.Dim+cfg.SideDim)
		r := s.stream("encode", s.round, p.id)
		// Clip first (the reported fraction is that of the raw updates),
		// then weight: (w/MaxWeight)·clip(Δ) has norm at most Clip.
		u := make([]float64, d)
		if err := s.clipInto(u, p); err != nil {
			return nil, fmt.Errorf("client %d: %w", p.id, err)
		}
		if mode == DPNone {
			w := min(p.update.Weight, s.sec.MaxWeight)
			u = scaledCopy(u, w/s.sec.MaxWeight)
			x[d] = stochasticRound(w*wScale, r)
			if p.clipped {
				x[d+1] = 1
			}
		}
		if _, err := codec.Encode(x[:d], u, r); err != nil {
			return nil, fmt.Errorf("client %d: %w", p.id, err)
		}
		if mode == DPCentral && side {
			x[d] = int64(indicatorOf(p.clipped))
		}
		return x, nil
	}
	return func(res *secagg.Result) error {
		codec.Decode(delta, res.Main())
		switch mode {
		case DPNone:
			w := float64(res.Side()[0]) / wScale
			if w <= 0 {
				return fmt.Errorf("%w: total weight %v", ErrClient, w)
			}
			for j := range delta {
				delta[j] *= s.sec.MaxWeight / w
			}
			s.summedClipped = float64(res.Side()[1]) / float64(len(res.Survivors))
			return nil
		default:
			ind := 0.0
			if side {
				ind = float64(res.Side()[0])
			}
			// Rounding adds at most sqrt(d)/Scale to a client's norm.
			sens := s.clip + math.Sqrt(float64(d))/codec.Scale
			return s.centralNoise(delta, ind, sens)
		}
	}, nil
}

// distributedInputs sets up the session with distributed DP: each client
// sends its update encoded and noised by the distributed discrete Gaussian
// mechanism; the server decodes the already-noised sum.
func (s *Server) distributedInputs(ss *secureSession, cfg *secagg.Config, parts []*participant, delta []float64) (func(*secagg.Result) error, error) {
	d := len(delta)
	enc, err := newDDGEncoder(d, len(parts), s.cfg.MinReports, s.zDelta, s.sec.Bits)
	if err != nil {
		return nil, err
	}
	cfg.Dim = enc.dpad
	var ind *indicatorEncoder
	if a := s.cfg.DP.Adaptive; a != nil {
		if ind, err = newIndicatorEncoder(a.IndicatorNoise, s.cfg.MinReports, enc.maxAbs, len(parts)); err != nil {
			return nil, err
		}
		cfg.SideDim = 1
	}
	if s.hooks.encoder != nil {
		s.hooks.encoder(s.round, enc)
	}
	sc := enc.scaleFor(s.clip)
	signs := randomSigns(enc.dpad, s.stream("rotation", s.round, 0))
	ss.input = func(i int) ([]int64, error) {
		p := parts[i]
		clippedU := make([]float64, d)
		if err := s.clipInto(clippedU, p); err != nil {
			return nil, fmt.Errorf("client %d: %w", p.id, err)
		}
		x := make([]int64, cfg.Dim+cfg.SideDim)
		noiseless := make([]int64, enc.dpad)
		r := s.stream("encode", s.round, p.id)
		smp := s.noiseSampler(s.round, p.id)
		if err := enc.encode(x[:enc.dpad], noiseless, clippedU, sc, signs, r, smp); err != nil {
			return nil, fmt.Errorf("client %d: %w", p.id, err)
		}
		if ind != nil {
			if x[enc.dpad], err = ind.encode(p.clipped, smp); err != nil {
				return nil, fmt.Errorf("client %d: %w", p.id, err)
			}
		}
		if s.hooks.encoded != nil {
			s.hooks.encoded(s.round, p.id, noiseless, x)
		}
		clear(noiseless)
		return x, nil
	}
	return func(res *secagg.Result) error {
		enc.decode(delta, res.Main(), sc, signs)
		k := float64(s.k)
		for j := range delta {
			delta[j] /= k
		}
		if ind != nil {
			s.adaptClip(ind.decode(res.Side()[0]))
		}
		return nil
	}, nil
}

// scaled returns f·u (u itself when f is 1).
func scaledCopy(u []float64, f float64) []float64 {
	if f == 1 {
		return u
	}
	out := make([]float64, len(u))
	for j, v := range u {
		out[j] = v * f
	}
	return out
}

// account fills the privacy fields of the report.
func (s *Server) account(rep *RoundReport) error {
	if s.cfg.DP.Mode == DPNone {
		return nil
	}
	eps, err := Epsilon(s.rate, s.cfg.DP.NoiseMultiplier, s.round, s.cfg.DP.Delta)
	if err != nil {
		return fmt.Errorf("federated: accounting round %d: %w", s.round, err)
	}
	rep.Epsilon, rep.Delta, rep.Accountant = eps, s.cfg.DP.Delta, AccountantName
	if s.cfg.DP.Mode == DPDistributed {
		rep.TailDelta = tailDelta(eps, s.round, s.cfg.DP.Adaptive != nil)
		if s.mostInSums > 0 {
			// Against the server, which knows each sum's contributors, no
			// amplification by sampling: the Gaussian mechanism composed
			// over the sums a client's input was in.
			se, err := Epsilon(1, s.cfg.DP.NoiseMultiplier, s.mostInSums, s.cfg.DP.Delta)
			if err != nil {
				return fmt.Errorf("federated: accounting round %d against the server: %w", s.round, err)
			}
			rep.ServerEpsilon, rep.ServerTailDelta = se, tailDelta(se, s.round, s.cfg.DP.Adaptive != nil)
		}
		rep.MostInSums = s.mostInSums
	}
	return nil
}

// tailDelta is the δ that modular clipping adds to a distributed-DP run
// of rounds rounds at ε: the run equals the one without modular clipping
// except on an event of probability at most p = rounds·TailBound (twice
// that with adaptive clipping, whose indicator has its own tail bound), in
// either neighbouring run, so that an (ε, δ) guarantee of the latter gives
// (ε, δ + (1+e^ε)·p) for the former.
func tailDelta(eps float64, rounds int, adaptive bool) float64 {
	p := float64(rounds) * TailBound
	if adaptive {
		p *= 2
	}
	return (1 + math.Exp(eps)) * p
}
