package dp

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestFilterRefusesOverspend(t *testing.T) {
	f, err := NewPureFilter(1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := f.Spend("tenth", Cost{Epsilon: 0.1}); err != nil {
			t.Fatalf("request %d of 0.1 refused: %v", i, err)
		}
	}
	err = f.Spend("histogram of ages", Cost{Epsilon: 0.01})
	if !errors.Is(err, ErrBudgetExhausted) || !strings.Contains(err.Error(), `"histogram of ages"`) {
		t.Fatalf("overspend: got %v, want ErrBudgetExhausted naming the request", err)
	}
	if s, n := f.Spent(); n != 10 || math.Abs(s.Epsilon-1) > 1e-12 {
		t.Errorf("spent %v in %d requests, want 1 in 10", s, n)
	}
	if err := f.Spend("delta under pure", Cost{Delta: 1e-9}); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("delta under pure DP: %v", err)
	}
	if err := f.Spend("nan", Cost{Epsilon: math.NaN()}); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("NaN cost: %v", err)
	}
}

func TestApproxAndZCDPFilters(t *testing.T) {
	a, _ := NewApproxFilter(1, 1e-6)
	if err := a.Spend("a", Cost{Epsilon: 0.5, Delta: 6e-7}); err != nil {
		t.Fatal(err)
	}
	if err := a.Spend("b", Cost{Epsilon: 0.1, Delta: 6e-7}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("delta overspend admitted: %v", err)
	}
	if r := a.Remaining(); math.Abs(r.Epsilon-0.5) > 1e-15 || math.Abs(r.Delta-4e-7) > 1e-20 {
		t.Errorf("remaining %+v", r)
	}
	z, _ := NewZCDPFilter(0.5)
	if err := z.Spend("rho", Cost{Rho: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := z.Spend("more", Cost{Rho: 1e-9}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("zCDP overspend admitted: %v", err)
	}
	o, _ := NewOdometer(ZCDP)
	for range 1000 {
		if err := o.Spend("x", Cost{Rho: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := o.Spent(); s.Rho != 10000 {
		t.Errorf("odometer total %v", s.Rho)
	}
	if _, err := NewPureFilter(0); !errors.Is(err, ErrInvalidEpsilon) {
		t.Errorf("zero budget: %v", err)
	}
	if _, err := NewApproxFilter(1, 1); !errors.Is(err, ErrInvalidDelta) {
		t.Errorf("delta 1 budget: %v", err)
	}
}

// TestFilterConcurrent spends from many goroutines: exactly the affordable
// number of requests must be admitted.
func TestFilterConcurrent(t *testing.T) {
	f, _ := NewPureFilter(100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if f.Spend("c", Cost{Epsilon: 0.5}) == nil {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if admitted != 200 {
		t.Errorf("admitted %d requests of 0.5 against 100, want 200", admitted)
	}
}

func TestFilterSaveRestore(t *testing.T) {
	f, _ := NewApproxFilter(2, 1e-5)
	_ = f.Spend("a", Cost{Epsilon: 0.75, Delta: 1e-6})
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := g.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	s, n := g.Spent()
	if g.Accounting() != ApproxDP || g.Limit() != f.Limit() || s != (Cost{Epsilon: 0.75, Delta: 1e-6}) || n != 1 {
		t.Errorf("restored %v %+v %+v %d", g.Accounting(), g.Limit(), s, n)
	}
	if err := g.Spend("too much", Cost{Epsilon: 1.5}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("restored filter forgot its spending: %v", err)
	}
	bad := bytes.Clone(b)
	bad[4] = 2
	if err := g.UnmarshalBinary(bad); !errors.Is(err, ErrInvalidEncoding) {
		t.Errorf("version 2: %v", err)
	}
	// Spending beyond the budget is not a state a filter can be in.
	over, _ := NewPureFilter(1)
	over.spent.Epsilon = 2
	ob, _ := over.MarshalBinary()
	if err := g.UnmarshalBinary(ob); !errors.Is(err, ErrInvalidEncoding) {
		t.Errorf("overspent state accepted: %v", err)
	}
	if err := g.UnmarshalBinary(b[:10]); !errors.Is(err, ErrInvalidEncoding) {
		t.Errorf("truncated: %v", err)
	}
}

// FuzzFilterUnmarshal checks that no input makes the decoder panic, that
// every accepted state re-encodes to the same bytes, and that an accepted
// state never has spending beyond its budget.
func FuzzFilterUnmarshal(f *testing.F) {
	for _, mk := range []func() *Filter{
		func() *Filter { x, _ := NewPureFilter(1); _ = x.Spend("a", Cost{Epsilon: 0.3}); return x },
		func() *Filter { x, _ := NewApproxFilter(1, 1e-6); return x },
		func() *Filter { x, _ := NewZCDPFilter(0.25); return x },
		func() *Filter { x, _ := NewOdometer(ApproxDP); return x },
	} {
		b, _ := mk().MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("PMLF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var g Filter
		if err := g.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrInvalidEncoding) {
				t.Fatalf("error %v does not wrap ErrInvalidEncoding", err)
			}
			return
		}
		out, _ := g.MarshalBinary()
		if !bytes.Equal(out, data) {
			t.Fatalf("round trip changed the state")
		}
		s, _ := g.Spent()
		l := g.Limit()
		if !within(s.Epsilon, l.Epsilon) || !within(s.Delta, l.Delta) || !within(s.Rho, l.Rho) {
			t.Fatalf("accepted overspent state %+v of %+v", s, l)
		}
		_ = g.Spend("x", Cost{Epsilon: 0.1})
	})
}
