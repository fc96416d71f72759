package anonymize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// IntervalSpec configures [IntervalHierarchy].
type IntervalSpec struct {
	// Widths are the interval widths of levels 1, 2, ...; each must be a
	// positive multiple of the one before. Required.
	Widths []float64
	// Origin aligns the intervals: level l groups v into
	// [Origin + j·w, Origin + (j+1)·w). Defaults to 0.
	Origin float64
	// Bottom and Top, when not nil, code values below *Bottom as
	// "<Bottom" and values at or above *Top as ">=Top" on every level
	// above 0 (bottom and top coding).
	Bottom, Top *float64
}

// IntervalHierarchy builds a hierarchy for numeric values: level 0 is the
// value, level l its interval of width Widths[l-1] written "[lo, hi[",
// and the last level is "*".
func IntervalHierarchy(name string, values []string, spec IntervalSpec) (*Hierarchy, error) {
	if len(spec.Widths) == 0 {
		return nil, fmt.Errorf("%w: %s: no interval widths", ErrHierarchy, name)
	}
	for i, w := range spec.Widths {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: %s: width %v of level %d must be positive and finite", ErrHierarchy, name, w, i+1)
		}
		if i > 0 {
			q := w / spec.Widths[i-1]
			if q < 1 || math.Abs(q-math.Round(q)) > 1e-9 {
				return nil, fmt.Errorf("%w: %s: width %v of level %d is not a multiple of %v", ErrHierarchy, name, w, i+1, spec.Widths[i-1])
			}
		}
	}
	if spec.Bottom != nil && spec.Top != nil && *spec.Bottom >= *spec.Top {
		return nil, fmt.Errorf("%w: %s: bottom %v not below top %v", ErrHierarchy, name, *spec.Bottom, *spec.Top)
	}
	rows := make([][]string, 0, len(values))
	seen := map[string]bool{}
	for _, s := range values {
		if seen[s] {
			continue
		}
		seen[s] = true
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: %s: value %q is not a finite number", ErrHierarchy, name, s)
		}
		row := []string{s}
		for _, w := range spec.Widths {
			switch {
			case spec.Bottom != nil && v < *spec.Bottom:
				row = append(row, "<"+fmtNum(*spec.Bottom))
			case spec.Top != nil && v >= *spec.Top:
				row = append(row, ">="+fmtNum(*spec.Top))
			default:
				j := math.Floor((v - spec.Origin) / w)
				lo := spec.Origin + j*w
				row = append(row, "["+fmtNum(lo)+", "+fmtNum(lo+w)+"[")
			}
		}
		rows = append(rows, append(row, "*"))
	}
	return NewHierarchy(name, rows)
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// MaskingHierarchy builds a hierarchy that masks trailing characters:
// level l replaces the last l characters by mask (ZIP "81667" becomes
// "8166*", "816**", ...), up to maxMasked characters, then "*". Values
// may have different lengths; a value shorter than l is fully masked.
func MaskingHierarchy(name string, values []string, maxMasked int, mask rune) (*Hierarchy, error) {
	if maxMasked < 1 {
		return nil, fmt.Errorf("%w: %s: maxMasked %d must be at least 1", ErrHierarchy, name, maxMasked)
	}
	if mask == 0 {
		mask = '*'
	}
	rows := make([][]string, 0, len(values))
	seen := map[string]bool{}
	for _, s := range values {
		if seen[s] {
			continue
		}
		seen[s] = true
		r := []rune(s)
		row := []string{s}
		for l := 1; l <= maxMasked; l++ {
			keep := max(len(r)-l, 0)
			row = append(row, string(r[:keep])+strings.Repeat(string(mask), len(r)-keep))
		}
		rows = append(rows, append(row, "*"))
	}
	return NewHierarchy(name, rows)
}

// DateLevel is one level of a [DateHierarchy].
type DateLevel int

// Date levels, from finest to coarsest.
const (
	Day     DateLevel = iota + 1 // 2006-01-02
	Month                        // 2006-01
	Quarter                      // 2006-Q1
	Year                         // 2006
	Decade                       // 2000s
)

// DateHierarchy builds a hierarchy for dates written with the Go time
// layout (such as "2006-01-02"): level l is the date at levels[l-1]
// granularity, the last level "*". Levels must be in increasing order.
func DateHierarchy(name string, values []string, layout string, levels ...DateLevel) (*Hierarchy, error) {
	if len(levels) == 0 {
		return nil, fmt.Errorf("%w: %s: no date levels", ErrHierarchy, name)
	}
	for i, l := range levels {
		if l < Day || l > Decade || (i > 0 && l <= levels[i-1]) {
			return nil, fmt.Errorf("%w: %s: date levels must be increasing, from Day to Decade", ErrHierarchy, name)
		}
	}
	rows := make([][]string, 0, len(values))
	seen := map[string]bool{}
	for _, s := range values {
		if seen[s] {
			continue
		}
		seen[s] = true
		d, err := time.Parse(layout, s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: value %q does not match layout %q", ErrHierarchy, name, s, layout)
		}
		row := []string{s}
		for _, l := range levels {
			switch l {
			case Day:
				row = append(row, d.Format("2006-01-02"))
			case Month:
				row = append(row, d.Format("2006-01"))
			case Quarter:
				row = append(row, fmt.Sprintf("%d-Q%d", d.Year(), (int(d.Month())-1)/3+1))
			case Year:
				row = append(row, strconv.Itoa(d.Year()))
			case Decade:
				row = append(row, strconv.Itoa(d.Year()/10*10)+"s")
			}
		}
		rows = append(rows, append(row, "*"))
	}
	return NewHierarchy(name, rows)
}
