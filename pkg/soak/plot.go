package soak

import (
	"fmt"
	"image/color"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotLatencies draws the distribution of each latency as a curve: the
// share of flows (y) done within a time (x, log scale), so the median, the
// tail and the difference between the three read at a glance.
func plotLatencies(path string, res Result, rate float64) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("expenseflow latency, %d flows as fast as they go", res.Flows)
	if rate > 0 {
		p.Title.Text = fmt.Sprintf("expenseflow latency, %d flows arriving at %.1f/s", res.Flows, rate)
	}
	p.X.Label.Text = "milliseconds (log scale)"
	p.Y.Label.Text = "share of flows done within"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	series := []struct {
		name string
		l    Latencies
		c    color.RGBA
	}{
		{"submit", res.Submit, color.RGBA{R: 31, G: 119, B: 180, A: 255}},
		{"approve", res.Approve, color.RGBA{R: 255, G: 127, B: 14, A: 255}},
		{"approve → every effect", res.ReadModels, color.RGBA{R: 44, G: 160, B: 44, A: 255}},
	}
	for _, s := range series {
		if len(s.l) == 0 {
			continue
		}
		line, err := plotter.NewLine(cdf(s.l))
		if err != nil {
			return err
		}
		line.Color, line.Width = s.c, vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (p50 %s, p99 %s)", s.name, s.l.Percentile(50).Round(time.Millisecond), s.l.Percentile(99).Round(time.Millisecond)), line)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.ThumbnailWidth = vg.Points(20)
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// cdf is the empirical distribution of l: (milliseconds, share ≤ it).
func cdf(l Latencies) plotter.XYs {
	s := slices.Clone(l)
	slices.Sort(s)
	xy := make(plotter.XYs, len(s))
	for i, d := range s {
		xy[i].X = max(float64(d)/float64(time.Millisecond), 0.01) // log scale: no zero
		xy[i].Y = float64(i+1) / float64(len(s))
	}
	return xy
}
