package sim

import (
	"errors"
	"testing"

	"github.com/privml/privml/federated/secagg"
)

func maliciousCfg(t *testing.T, n int, label string) (secagg.Config, Options) {
	pub, priv, err := NewIdentities(n, testRand("id/"+label))
	if err != nil {
		t.Fatal(err)
	}
	cfg := secagg.Config{NumClients: n, Dim: 8, Bits: 20, MaxAbs: 100, MaxSideAbs: 1, Threat: secagg.Malicious,
		DropoutRate: 0.1, CorruptRate: 0.1, Identities: pub}
	return cfg, Options{Identities: priv, InsecureTestRand: testRand(label)}
}

// refusedBy returns the clients whose error wraps want.
func refusedBy(rep *Report, want error) []int {
	var ids []int
	for id, err := range rep.ClientErrors {
		if errors.Is(err, want) {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestLyingServerRefused(t *testing.T) {
	const n, target = 12, 4
	for _, tc := range []struct {
		name     string
		behave   ServerBehaviour
		threat   secagg.Threat
		sentinel []error // any of these
	}{
		{"ask-both/semi-honest", AskBothShares, secagg.SemiHonest, []error{secagg.ErrProtocol}},
		{"ask-both/malicious", AskBothShares, secagg.Malicious, []error{secagg.ErrProtocol}},
		{"inconsistent-dropouts/malicious", InconsistentDropouts, secagg.Malicious, []error{secagg.ErrAuth, secagg.ErrProtocol, secagg.ErrTooFewClients}},
		{"replay-unmask/semi-honest", ReplayUnmask, secagg.SemiHonest, []error{secagg.ErrRound}},
		{"replay-old-session/semi-honest", ReplayOldSession, secagg.SemiHonest, []error{secagg.ErrSession}},
		{"duplicate-advert/semi-honest", DuplicateAdvert, secagg.SemiHonest, []error{secagg.ErrReplay}},
		{"duplicate-advert/malicious", DuplicateAdvert, secagg.Malicious, []error{secagg.ErrReplay}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, opts := maliciousCfg(t, n, tc.name)
			if tc.threat == secagg.SemiHonest {
				cfg.Threat, cfg.Identities, opts.Identities = secagg.SemiHonest, nil, nil
			}
			p := mustParams(t, cfg)
			opts.Server, opts.Target = tc.behave, target
			rep, err := Run(p, Vectors(randomInputs(p, 3)), opts)
			if err != nil {
				t.Fatal(err)
			}
			var refused int
			for _, s := range tc.sentinel {
				refused += len(refusedBy(rep, s))
			}
			if refused == 0 {
				t.Fatalf("no honest client refused; client errors: %v", rep.ClientErrors)
			}
			for id, err := range rep.ClientErrors {
				var e *secagg.Error
				if !errors.As(err, &e) {
					t.Fatalf("client %d: error %v is not a *secagg.Error", id, err)
				}
			}
			if rep.Revealed.Self >= p.Threshold() && rep.Revealed.Key >= p.Threshold() {
				t.Fatalf("the server collected %d self-mask and %d mask-key shares of client %d, threshold %d: it can unmask it",
					rep.Revealed.Self, rep.Revealed.Key, target, p.Threshold())
			}
			if rep.Result != nil {
				t.Fatalf("the session completed despite the attack")
			}
		})
	}
}

// TestInconsistentDropoutsNeedTheConsistencyCheck shows what the
// malicious-model consistency round buys: against a semi-honest
// configuration with a low threshold, a server that tells half the
// target's neighbours it dropped and the other half it survived collects
// enough of both shares to unmask it (per-client checks cannot see the
// lie); in the malicious model the same server is refused.
func TestInconsistentDropoutsNeedTheConsistencyCheck(t *testing.T) {
	const n, target = 12, 4
	cfg, opts := maliciousCfg(t, n, "inconsistent")
	semi := cfg
	semi.Threat, semi.Identities, semi.CorruptRate, semi.Degree = secagg.SemiHonest, nil, 0, 8
	p := mustParams(t, semi)
	if p.Threshold() > (p.Degree()+1)/2 {
		t.Skipf("threshold %d leaves no room for the attack", p.Threshold())
	}
	rep, err := Run(p, Vectors(randomInputs(p, 5)), Options{Server: InconsistentDropouts, Target: target, InsecureTestRand: testRand("inc-semi")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revealed.Self < p.Threshold() || rep.Revealed.Key < p.Threshold() {
		t.Fatalf("control: the attack collected %d/%d shares, threshold %d", rep.Revealed.Self, rep.Revealed.Key, p.Threshold())
	}

	pm := mustParams(t, cfg)
	opts.Server, opts.Target = InconsistentDropouts, target
	rep, err = Run(pm, Vectors(randomInputs(pm, 5)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revealed.Self >= pm.Threshold() && rep.Revealed.Key >= pm.Threshold() {
		t.Fatalf("malicious model: the server collected %d/%d shares", rep.Revealed.Self, rep.Revealed.Key)
	}
	if len(rep.ClientErrors) == 0 {
		t.Fatal("no client refused")
	}
}

func TestMaliciousModelHonestRun(t *testing.T) {
	for _, n := range []int{3, 10, 30} {
		cfg, opts := maliciousCfg(t, n, "honest")
		if n == 3 {
			cfg.CorruptRate = 0
		}
		p := mustParams(t, cfg)
		if n >= 10 {
			// (With 3 clients the malicious threshold is 3: no dropout fits.)
			// Three clients drop: configure for that many.
			cfg.DropoutRate = 0.3
			p = mustParams(t, cfg)
			opts.Drop = map[secagg.Round][]int{secagg.RoundMaskedInput: {1}, secagg.RoundConsistency: {2}, secagg.RoundUnmask: {5}}
		}
		rep, err := Run(p, Vectors(randomInputs(p, 9)), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Err != nil || !rep.Correct {
			t.Fatalf("n=%d k=%d t=%d: err=%v correct=%v client errors %v", n, p.Degree(), p.Threshold(), rep.Err, rep.Correct, rep.ClientErrors)
		}
	}
}

func TestMisbehavingClientsDoNotCorruptTheSum(t *testing.T) {
	const n = 10
	// Four of ten faulty clients leave the sum: configure for 40% dropout,
	// or the sum falls below MinInputs.
	p := mustParams(t, secagg.Config{NumClients: n, Dim: 33, Bits: 13, MaxAbs: 300, MaxSideAbs: 1, DropoutRate: 0.4, Degree: n - 1})
	faults := []Fault{
		{Client: 1, Round: secagg.RoundAdvertise, Kind: Garbage},
		{Client: 2, Round: secagg.RoundShareKeys, Kind: Truncated},
		{Client: 3, Round: secagg.RoundMaskedInput, Kind: WrongLength},
		{Client: 4, Round: secagg.RoundMaskedInput, Kind: Garbage},
		{Client: 5, Round: secagg.RoundShareKeys, Kind: Replayed},
		{Client: 6, Round: secagg.RoundUnmask, Kind: Truncated},
	}
	rep, err := Run(p, Vectors(randomInputs(p, 11)), Options{Faults: faults, InsecureTestRand: testRand("faults")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err != nil || !rep.Correct {
		t.Fatalf("err=%v correct=%v", rep.Err, rep.Correct)
	}
	if len(rep.Rejected) < len(faults) {
		t.Fatalf("server rejected %d messages, want at least %d: %v", len(rep.Rejected), len(faults), rep.Rejected)
	}
	for _, err := range rep.Rejected {
		var e *secagg.Error
		if !errors.As(err, &e) || e.Client < 1 || e.Client > 6 {
			t.Fatalf("rejection %v does not name a faulty client", err)
		}
	}
	// Faulty clients of rounds before unmasking are out of the sum.
	for _, u := range rep.Result.Survivors {
		if u >= 1 && u <= 4 {
			t.Fatalf("client %d sent a corrupt message yet is among the survivors", u)
		}
	}
}

func TestTooManyDropoutsAbort(t *testing.T) {
	const n = 10
	p := mustParams(t, secagg.Config{NumClients: n, Dim: 4, Bits: 16, MaxAbs: 10, MaxSideAbs: 1, DropoutRate: 0.3, CorruptRate: 0.2})
	tt := p.Threshold()
	for _, rd := range rounds {
		drops := pickDrop(n, n-tt+1, 1)
		rep, err := Run(p, Vectors(randomInputs(p, 1)), Options{Drop: map[secagg.Round][]int{rd: drops}, InsecureTestRand: testRand("abort")})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(rep.Err, secagg.ErrTooFewClients) {
			t.Fatalf("round %s, %d of %d dropped (t=%d): err = %v, want ErrTooFewClients", rd, len(drops), n, tt, rep.Err)
		}
		if rep.Result != nil {
			t.Fatal("a result despite the abort")
		}
	}
}

func TestDropoutAfterMaskedInputRecovered(t *testing.T) {
	p := mustParams(t, secagg.Config{NumClients: 10, Dim: 50, Bits: 32, DropoutRate: 0.3, CorruptRate: 0.1})
	in := randomInputs(p, 4)
	rep, err := Run(p, Vectors(in), Options{Drop: map[secagg.Round][]int{secagg.RoundUnmask: {0, 7}}, InsecureTestRand: testRand("late")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err != nil || !rep.Correct || len(rep.Result.Survivors) != 10 {
		t.Fatalf("err=%v correct=%v survivors=%v", rep.Err, rep.Correct, rep.Result)
	}
}

func TestCorruptedSharesDoNotCorruptTheSum(t *testing.T) {
	const n = 10
	p := mustParams(t, secagg.Config{NumClients: n, Dim: 20, Bits: 32, DropoutRate: 0.3, Degree: n - 1, Threshold: 4})
	in := randomInputs(p, 21)
	// Client 0 reveals corrupted shares; client 5 dropped before masking,
	// so its mask key must be rebuilt too.
	rep, err := Run(p, Vectors(in), Options{
		Faults:           []Fault{{Client: 0, Round: secagg.RoundUnmask, Kind: CorruptShares}},
		Drop:             map[secagg.Round][]int{secagg.RoundMaskedInput: {5}},
		InsecureTestRand: testRand("corrupt"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err != nil || !rep.Correct {
		t.Fatalf("err=%v correct=%v", rep.Err, rep.Correct)
	}
	if got := rep.Result.Inconsistent; len(got) != 1 || got[0] != 0 {
		t.Fatalf("holders reported inconsistent: %v, want [0]", got)
	}
	// Half the holders corrupted: 5 clean shares of 10 remain, t = 4, and
	// the server finds a clean set among the subsets it tries.
	var faults []Fault
	for i := range n {
		if i%2 == 0 {
			faults = append(faults, Fault{Client: i, Round: secagg.RoundUnmask, Kind: CorruptShares})
		}
	}
	rep, err = Run(p, Vectors(in), Options{Faults: faults, InsecureTestRand: testRand("corrupt2")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err != nil || !rep.Correct {
		t.Fatalf("half the holders corrupted: err=%v correct=%v", rep.Err, rep.Correct)
	}
	// With too many corrupted holders (3 clean shares, t = 4) no set of t
	// shares is clean: the server aborts with ErrAuth rather than return a
	// wrong sum.
	faults = faults[:0]
	for i := range n {
		if i%3 != 1 {
			faults = append(faults, Fault{Client: i, Round: secagg.RoundUnmask, Kind: CorruptShares})
		}
	}
	rep, err = Run(p, Vectors(in), Options{Faults: faults, InsecureTestRand: testRand("corrupt3")})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rep.Err, secagg.ErrAuth) || rep.Result != nil {
		t.Fatalf("err = %v, want ErrAuth and no result", rep.Err)
	}
}
