package federated

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/privml/privml/federated/secagg"
)

// RoundReport says what happened in a round.
type RoundReport struct {
	Round int
	// Sampled is the number of clients sampled; Dropouts of them dropped
	// out or missed the deadline (Late counts the latter) before their
	// update reached the aggregate; Unused reported after the K wanted
	// (over-selection).
	Sampled, Dropouts, Late, Unused int
	// Reports is the number of updates in the aggregate.
	Reports int
	// Clipped is the fraction of the reports whose norm exceeded Clip.
	// With DP it is a count the accountant does not cover, so it is
	// released only as the noised estimate adaptive clipping computes
	// anyway, 1 - b̄ clamped to [0, 1] (post-processing, no further cost),
	// and is NaN without adaptive clipping or in a skipped round. With
	// secure aggregation and no DP each client adds its clip indicator as
	// a side coordinate and the fraction is read from the secure sum (NaN
	// in a skipped round).
	Clipped float64
	// Clip is the clipping bound used in the round (0: none).
	Clip float64
	// Secure is true when the aggregate came out of a secure-aggregation
	// session.
	Secure bool
	// Skipped is set when the round left the model unchanged, with the
	// reason.
	Skipped    bool
	SkipReason string
	// Epsilon is the client-level epsilon spent so far at Delta, by the
	// accountant named in Accountant (DP runs only).
	Epsilon, Delta float64
	Accountant     string
	// TailDelta is, with distributed DP, the δ that modular clipping adds
	// so far (see [TailBound]): the run's guarantee is
	// (Epsilon, Delta + TailDelta). Zero otherwise.
	TailDelta float64
	// ServerEpsilon is, with distributed DP, the epsilon at Delta (plus
	// ServerTailDelta) against the server itself, for the client whose
	// input was in the most unmasked sums so far (MostInSums of them).
	// Epsilon relies on amplification by sampling, which holds only
	// against an observer who does not learn which clients took part; the
	// server does, so against it a client's guarantee is the Gaussian
	// mechanism of multiplier z composed over the sums its input was in:
	// Epsilon(1, z, MostInSums, Delta). Zero otherwise.
	ServerEpsilon, ServerTailDelta float64
	MostInSums                     int
	// Wall is the round's wall-clock time. TrainTime is the time spent in
	// the clients' Train, summed over clients; ClientTime the time of the
	// clients' share of aggregation (encoding, noise, the secure
	// aggregation client steps), summed over clients; ServerTime the
	// server's (the secure aggregation server steps, decoding, noise,
	// aggregation, the optimizer step).
	Wall, TrainTime, ClientTime, ServerTime time.Duration
}

// participant is a sampled client in a round.
type participant struct {
	id      int // population index
	fate    DropStep
	latency time.Duration
	update  Update
	clipped bool
}

// Round runs one round: sample, train, aggregate, step, account.
func (s *Server) Round() (*RoundReport, error) {
	start := time.Now()
	s.round++
	rep := &RoundReport{Round: s.round, Clip: s.clip}
	s.noisedClipped = math.NaN()
	parts, err := s.sample(rep)
	if err != nil {
		return nil, err
	}
	reporters := s.reporters(parts)
	if err := s.train(reporters, rep); err != nil {
		return nil, err
	}
	delta := make([]float64, len(s.model))
	t := s.cfg.Clock()
	if s.cfg.Secure != nil {
		err = s.aggregateSecure(parts, delta, rep)
	} else {
		err = s.aggregatePlain(reporters, delta, rep)
		rep.ServerTime = s.cfg.Clock() - t
	}
	switch {
	case errors.Is(err, ErrTooFewReports) || errors.Is(err, secagg.ErrTooFewClients):
		rep.Skipped, rep.SkipReason = true, err.Error()
	case err != nil:
		return nil, err
	default:
		t := s.cfg.Clock()
		if err := s.opt.Step(s.model, delta); err != nil {
			return nil, fmt.Errorf("federated: round %d: %s step: %w", s.round, s.opt.Name(), err)
		}
		rep.ServerTime += s.cfg.Clock() - t
	}
	if s.cfg.DP.Mode != DPNone {
		rep.Clipped = s.noisedClipped
	}
	if err := s.account(rep); err != nil {
		return nil, err
	}
	rep.Wall = time.Since(start)
	return rep, nil
}

// sample draws the round's clients (Poisson sampling at rate q) and their
// simulated fates.
func (s *Server) sample(rep *RoundReport) ([]*participant, error) {
	r := s.stream("sample", s.round, 0)
	var parts []*participant
	for id := range s.clients {
		if r.Float64() < s.rate {
			parts = append(parts, &participant{id: id})
		}
	}
	rep.Sampled = len(parts)
	for _, p := range parts {
		if s.cfg.Availability != nil {
			a := s.cfg.Availability(s.round, p.id, s.stream("availability", s.round, p.id))
			p.fate, p.latency = a.Drop, a.Latency
			if a.Drop > DropBeforeUnmask {
				return nil, fmt.Errorf("%w: Availability gave client %d in round %d the unknown drop step %d", ErrConfig, p.id, s.round, a.Drop)
			}
		}
		if s.cfg.Deadline > 0 && p.latency > s.cfg.Deadline && p.fate.reported() {
			p.fate = DropBeforeInput
			rep.Late++
		}
	}
	// Over-selection: the first K reports (by latency) are used; the server
	// closes the input round when it has them.
	var on []*participant
	for _, p := range parts {
		if p.fate.reported() {
			on = append(on, p)
		}
	}
	slices.SortStableFunc(on, func(a, b *participant) int { return cmp.Compare(a.latency, b.latency) })
	if s.cfg.OverSelect == 0 {
		on = nil
	}
	for _, p := range on[min(len(on), s.k):] {
		p.fate = DropBeforeInput
		rep.Unused++
	}
	for _, p := range parts {
		if !p.fate.reported() {
			rep.Dropouts++
		}
	}
	rep.Dropouts -= rep.Unused
	return parts, nil
}

// reporters returns the participants whose update reaches the aggregate.
func (s *Server) reporters(parts []*participant) []*participant {
	var out []*participant
	for _, p := range parts {
		if p.fate.reported() {
			out = append(out, p)
		}
	}
	return out
}

// train runs the reporters' local training, Workers at a time.
func (s *Server) train(ps []*participant, rep *RoundReport) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ps))
	took := make([]time.Duration, len(ps))
	defer func() {
		for _, d := range took {
			rep.TrainTime += d
		}
	}()
	sem := make(chan struct{}, s.cfg.Workers)
	for i, p := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t := time.Now()
			errs[i] = s.trainOne(p)
			took[i] = time.Since(t)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Server) trainOne(p *participant) error {
	u, err := s.clients[p.id].Train(Task{Round: s.round, Global: s.model, Rand: s.stream("train", s.round, p.id)})
	if err != nil {
		return fmt.Errorf("%w: client %d, round %d: %w", ErrClient, p.id, s.round, err)
	}
	if len(u.Delta) != len(s.model) {
		return fmt.Errorf("%w: client %d, round %d: update has %d coordinates, model %d", ErrClient, p.id, s.round, len(u.Delta), len(s.model))
	}
	if s.cfg.DP.Mode != DPNone {
		// With DP a round must not fail, or be reported, because of one
		// client's data (no noise covers that event): a non-finite update
		// counts as a zero one, and weights are ignored.
		u.Weight = 1
		for _, v := range u.Delta {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				u.Delta = make([]float64, len(u.Delta))
				break
			}
		}
	}
	for j, v := range u.Delta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: client %d, round %d: coordinate %d is %v", ErrClient, p.id, s.round, j, v)
		}
	}
	if !(u.Weight >= 0) || math.IsInf(u.Weight, 0) {
		return fmt.Errorf("%w: client %d, round %d: weight %v", ErrClient, p.id, s.round, u.Weight)
	}
	p.update = u
	return nil
}

// clipInto writes the update clipped to the current bound into dst and
// records whether it was clipped.
func (s *Server) clipInto(dst []float64, p *participant) error {
	f, clipped, err := l2ClipFactor(p.update.Delta, s.clip)
	if err != nil {
		return err
	}
	p.clipped = clipped
	for j, v := range p.update.Delta {
		dst[j] = v * f
	}
	return nil
}

// aggregatePlain aggregates updates the server sees in the clear.
func (s *Server) aggregatePlain(ps []*participant, delta []float64, rep *RoundReport) error {
	rep.Reports = len(ps)
	if len(ps) < s.cfg.MinReports {
		return fmt.Errorf("%w: %d reports, need %d", ErrTooFewReports, len(ps), s.cfg.MinReports)
	}
	updates := make([][]float64, len(ps))
	weights := make([]float64, len(ps))
	for i, p := range ps {
		updates[i], weights[i] = p.update.Delta, p.update.Weight
		if s.clip > 0 {
			updates[i] = make([]float64, len(delta))
			if err := s.clipInto(updates[i], p); err != nil {
				return err
			}
		}
	}
	rep.Clipped = clippedFraction(ps)
	if s.cfg.DP.Mode == DPNone {
		return s.agg.Aggregate(delta, updates, weights)
	}
	// DP-FedAvg: sum of clipped updates, noise, fixed denominator.
	indicator := 0.0
	for i, u := range updates {
		for j, v := range u {
			delta[j] += v
		}
		indicator += indicatorOf(ps[i].clipped)
	}
	return s.centralNoise(delta, indicator, s.clip)
}

// indicatorOf is b_i - 1/2 of adaptive clipping, in units of 1/2: +1 if
// the update was within the bound, -1 otherwise.
func indicatorOf(clipped bool) float64 {
	if clipped {
		return -1
	}
	return 1
}

func clippedFraction(ps []*participant) float64 {
	if len(ps) == 0 {
		return 0
	}
	n := 0
	for _, p := range ps {
		if p.clipped {
			n++
		}
	}
	return float64(n) / float64(len(ps))
}

// centralNoise adds the server's Gaussian noise to the sum of clipped
// updates (sensitivity sens), divides by K and, with adaptive clipping,
// moves the bound using the noised indicator sum (in units of 1/2).
func (s *Server) centralNoise(sum []float64, indicator2 float64, sens float64) error {
	smp := s.noiseSampler(s.round, -1)
	sigma, err := gridSigma(s.zDelta, sens, len(sum))
	if err != nil {
		return err
	}
	if err := smp.AddGaussian(sum, sigma); err != nil {
		return fmt.Errorf("federated: central noise: %w", err)
	}
	k := float64(s.k)
	for j := range sum {
		sum[j] /= k
	}
	if a := s.cfg.DP.Adaptive; a != nil {
		// Σ(b_i - 1/2) = indicator2/2, noised with N(0, σ_b²).
		v := []float64{indicator2 / 2}
		sigmaB, err := gridSigma(2*a.IndicatorNoise, 0.5, 1)
		if err != nil {
			return err
		}
		if err := smp.AddGaussian(v, sigmaB); err != nil {
			return fmt.Errorf("federated: indicator noise: %w", err)
		}
		s.adaptClip(v[0])
	}
	return nil
}

// gridSigma returns the standard deviation that gives noise multiplier z
// for L2 sensitivity sens in d coordinates once dp's AddGaussian has
// rounded its input to the grid g ≤ σ·2^-36 (which raises the
// sensitivity to sens + g·sqrt(d), see package dp):
// σ = z·sens/(1 - z·2^-36·sqrt(d)), so that σ ≥ z·(sens + g·sqrt(d)).
func gridSigma(z, sens float64, d int) (float64, error) {
	f := 1 - z*0x1p-36*math.Sqrt(float64(d))
	if !(f > 0.5) {
		return 0, fmt.Errorf("%w: noise multiplier %v too large for the noise grid in %d coordinates", ErrConfig, z, d)
	}
	return z * sens / f, nil
}

// adaptClip moves the clipping bound from the noised Σ(b_i - 1/2)
// (Andrew et al. 2021): b̄ = noised/K + 1/2, C ← C·exp(-η(b̄ - γ)).
func (s *Server) adaptClip(noisedHalfSum float64) {
	a := s.cfg.DP.Adaptive
	frac := noisedHalfSum/float64(s.k) + 0.5
	s.clip *= math.Exp(-a.LearningRate * (frac - a.TargetQuantile))
	s.noisedClipped = min(1, max(0, 1-frac))
}
