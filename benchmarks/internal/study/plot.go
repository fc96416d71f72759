package study

import (
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one named line of a plot.
type Series struct {
	Name string
	XY   plotter.XYs
	// Dashed draws the line dashed with no points (reference lines).
	Dashed bool
	// PointsOnly draws the points without a line.
	PointsOnly bool
}

// Plot describes a line plot.
type Plot struct {
	Title, X, Y string
	Series      []Series
	// LogX puts the x axis on a log scale.
	LogX bool
	// Diagonal draws y = x over the x range (for "empirical against
	// claimed" plots).
	Diagonal bool
	// XTicks, if set, are the labelled ticks of the x axis.
	XTicks []float64
	// LegendBottomRight moves the legend from the top left corner.
	LegendBottomRight bool
}

// WritePNG draws p to Dir/Name+suffix (5 x 3.5 inches at 96 dpi, small
// files) and returns the path.
func (r *Run) WritePNG(suffix string, p Plot) (string, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.X
	pl.Y.Label.Text = p.Y
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = !p.LegendBottomRight
	pl.Legend.Left = !p.LegendBottomRight
	if p.LogX {
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if len(p.XTicks) > 0 {
		var ticks []plot.Tick
		for _, x := range p.XTicks {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
		pl.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range p.Series {
		if len(s.XY) == 0 {
			continue
		}
		for _, pt := range s.XY {
			xmin, xmax = math.Min(xmin, pt.X), math.Max(xmax, pt.X)
		}
		l, pts, err := plotter.NewLinePoints(s.XY)
		if err != nil {
			return "", fmt.Errorf("%s: series %q: %w", r.Name, s.Name, err)
		}
		c := plotutil.Color(i)
		l.Color = c
		pts.Color = c
		pts.Shape = plotutil.Shape(i)
		switch {
		case s.Dashed:
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			pl.Add(l)
			pl.Legend.Add(s.Name, l)
		case s.PointsOnly:
			pts.Radius = vg.Points(4)
			pl.Add(pts)
			pl.Legend.Add(s.Name, pts)
		default:
			pl.Add(l, pts)
			pl.Legend.Add(s.Name, l, pts)
		}
	}
	if p.Diagonal && xmax > xmin {
		d, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: xmin}, {X: xmax, Y: xmax}})
		if err == nil {
			d.Color = color.Gray{Y: 120}
			d.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			pl.Add(d)
			pl.Legend.Add("y = x", d)
		}
	}
	path := r.Path(suffix)
	c := vgimg.NewWith(vgimg.UseWH(5*vg.Inch, 3.5*vg.Inch), vgimg.UseDPI(96))
	pl.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", r.Name, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", r.Name, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("%s: %w", r.Name, err)
	}
	r.Progress("wrote %s", path)
	return path, nil
}

// CheckPNG decodes the PNG at path and checks that it is not empty.
func CheckPNG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		return fmt.Errorf("%s: image of %dx%d pixels", path, b.Dx(), b.Dy())
	}
	return nil
}
