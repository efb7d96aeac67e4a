package main

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Colours of the failure kinds, in failureKinds' order.
var failRGB = []color.RGBA{{220, 30, 30, 255}, {140, 0, 0, 255}, {250, 120, 40, 255}, {120, 60, 160, 255},
	{150, 90, 40, 255}, {200, 150, 0, 255}, {120, 120, 120, 255}}

// drawStreamChart draws a stream run into file (.png or .svg): the
// connections open by generation above (stacked: the total is every
// client, the colours show who is where), failures per interval by kind
// below, and a dashed line at each restart signal, a dotted one at each old
// worker's exit.
func drawStreamChart(res result, file string) error {
	bin, bins := chartBins(res.samples)
	if bins == 0 {
		return fmt.Errorf("%s: the run has no samples to draw", file)
	}
	rep := res.streams
	fails := failures(*rep)
	total := 0
	for _, n := range fails {
		total += n
	}
	top, bottom := panels(fmt.Sprintf("%s: %s, %d connections, %d failures", res.title, restartsText(res.restarts), rep.WS.Connects+rep.SSE.Connects, total),
		"connections open", fmt.Sprintf("failures per %v", bin), bin, bins)
	order := generations(res.samples, func(s sample) map[int]int { return s.open })
	// The gauge at the end of each bin, stacked.
	openStack := make([]plotter.XYs, len(order))
	for i := range openStack {
		openStack[i] = make(plotter.XYs, bins+1)
	}
	for b := 0; b <= bins; b++ {
		end := time.Duration(b+1) * bin
		k := sort.Search(len(res.samples), func(j int) bool { return res.samples[j].at > end })
		s := sample{}
		if k > 0 {
			s = res.samples[k-1]
		}
		sum := 0.0
		for i, g := range order {
			sum += float64(s.open[g])
			openStack[i][b] = plotter.XY{X: (time.Duration(b) * bin).Seconds(), Y: sum}
		}
	}
	legend := make([]*plotter.Line, len(order))
	var err error
	for i := len(order) - 1; i >= 0; i-- {
		c := genRGB[(order[i]-1+len(genRGB))%len(genRGB)]
		if legend[i], err = addArea(top, openStack[i], c); err != nil {
			return err
		}
	}
	for i, g := range order {
		top.Legend.Add(fmt.Sprintf("generation %d: %d connections", g, rep.ByGen[g]), legend[i])
	}
	failStack := stack(res.samples, bin, bins, len(failureKinds), func(s sample, i int) int { return s.fails[failureKinds[i]] })
	legend = make([]*plotter.Line, len(failureKinds))
	for i := len(failureKinds) - 1; i >= 0; i-- {
		if legend[i], err = addArea(bottom, failStack[i], failRGB[i]); err != nil {
			return err
		}
	}
	for i, k := range failureKinds {
		if fails[k] > 0 {
			bottom.Legend.Add(fmt.Sprintf("%s %d", k, fails[k]), legend[i])
		}
	}
	if total == 0 {
		bottom.Title.Text = "no failures: no abnormal close, every close code 1012, nothing lost or duplicated, no SSE id gap"
		bottom.Y.Max = 1
	}
	if err := addMarks(top, res.events, float64(res.clients)); err != nil {
		return err
	}
	if err := addMarks(bottom, res.events, peak(failStack)); err != nil {
		return err
	}
	return save([][]*plot.Plot{{top}, {bottom}}, file)
}

// A stormRun is one variant of the storm's comparison, measured.
type stormRun struct {
	name string
	res  result
}

// signalAt is when the (first) restart signal of res was sent.
func signalAt(res result) time.Duration {
	for _, e := range res.events {
		if e.kind == evSignal {
			return e.at
		}
	}
	return 0
}

// drawStorm draws the storm's variants into one chart: on the left the
// connections on the new generation against the time since the old
// generation closed its first one (a steep step is a storm, a ramp is
// spread out); on the right the share
// of reconnections whose connect (TCP and handshake) took at most x, on a
// log scale (a step at 1 s is dropped SYNs sent again).
func drawStorm(runs []stormRun, clients int, note, file string) error {
	left, right := plot.New(), plot.New()
	for _, p := range []*plot.Plot{left, right} {
		style(p)
		p.Legend.Left, p.Legend.Top = false, false
		p.Title.TextStyle.Font.Size = 17
	}
	left.Title.Text = fmt.Sprintf("%d clients on the new generation", clients)
	left.X.Label.Text = "seconds since the old generation's first close" + note
	left.Y.Label.Text = "connections"
	left.Legend.Top, left.Legend.Left = false, false
	left.Legend.YOffs = vg.Points(40)
	left.X.Tick.Marker = ticks{unit: "s", fractions: true, most: 6} // half a chart's width
	right.Title.Text = "reconnections whose connect took ≤ x"
	right.X.Label.Text = "connect time (TCP + handshake), log scale"
	right.Y.Label.Text = "share of reconnections"
	right.X.Scale = plot.LogScale{}
	right.X.Tick.Marker = durTicks{}
	right.Y.Min, right.Y.Max = 0, 1.02
	right.Y.Tick.Marker = ticks{fractions: true}
	right.Legend.Left, right.Legend.Top = true, true
	xmax, cmin, cmax := 0.0, math.Inf(1), 0.0
	for i, r := range runs {
		c := genRGB[i%len(genRGB)]
		g, t0 := newest(r.res.streams.ByGen), firstClose(r.res)
		var xys plotter.XYs
		for _, s := range r.res.samples {
			if s.at < t0 {
				continue
			}
			xys = append(xys, plotter.XY{X: (s.at - t0).Seconds(), Y: float64(s.open[g])})
		}
		if len(xys) == 0 {
			continue
		}
		xmax = math.Max(xmax, xys[len(xys)-1].X)
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.LineStyle.Color, l.LineStyle.Width = c, vg.Points(3)
		left.Add(l)
		left.Legend.Add(r.name, l)

		d := append([]time.Duration(nil), r.res.connect...)
		if len(d) == 0 {
			continue
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		step := max(1, len(d)/2000)
		var cdf plotter.XYs
		for k := 0; k < len(d); k += step {
			x := math.Max(float64(d[k])/1e9, 1e-5)
			cdf = append(cdf, plotter.XY{X: x, Y: float64(k+1) / float64(len(d))})
		}
		last := math.Max(float64(d[len(d)-1])/1e9, 1e-5)
		cdf = append(cdf, plotter.XY{X: last, Y: 1})
		cmin, cmax = math.Min(cmin, cdf[0].X), math.Max(cmax, last)
		l, err = plotter.NewLine(cdf)
		if err != nil {
			return err
		}
		l.LineStyle.Color, l.LineStyle.Width = c, vg.Points(3)
		right.Add(l)
		right.Legend.Add(fmt.Sprintf("%s: p99 %v", r.name, rnd(r.res.streams.Connect.P99)), l)
	}
	left.X.Min, left.X.Max, left.Y.Min, left.Y.Max = 0, xmax, 0, float64(clients)*1.05
	if cmin < cmax {
		right.X.Min, right.X.Max = cmin, math.Max(cmax*1.5, 2)
	}
	// A line at 1 s: where a dropped SYN's first retransmission lands.
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: 0}, {X: 1, Y: 1.02}})
	if err != nil {
		return err
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	one.LineStyle.Color = color.Black
	right.Add(one)
	return save([][]*plot.Plot{{left, right}}, file)
}

// durTicks marks a log-scale axis of seconds at powers of ten, as 1ms, 10ms, 100ms, 1s, 10s.
type durTicks struct{}

func (durTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); math.Pow(10, e) <= max*1.0001; e++ {
		v := math.Pow(10, e)
		if v < min*0.9999 {
			continue
		}
		out = append(out, plot.Tick{Value: v, Label: time.Duration(v * 1e9).String()})
	}
	return out
}
