package main

import (
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"hotdeploy/internal/load"
)

// The chart's size and fonts are for a projector: 1440x810 pixels as PNG,
// text readable from the back of a room.
const (
	chartW, chartH = 12 * vg.Inch, 6.75 * vg.Inch
	chartDPI       = 120
)

// Colours of the chart: the generations in the timeline's order (cyan,
// yellow, magenta, green, blue), the error classes in reds and browns.
var (
	genRGB = []color.RGBA{{0, 150, 190, 255}, {230, 170, 0, 255}, {190, 60, 170, 255}, {40, 160, 60, 255}, {40, 80, 200, 255}}
	errRGB = map[load.Class]color.RGBA{
		load.Refused: {220, 30, 30, 255}, load.Reset: {140, 0, 0, 255}, load.EOF: {250, 120, 40, 255},
		load.Timeout: {120, 60, 160, 255}, load.Non2xx: {150, 90, 40, 255}, load.Other: {120, 120, 120, 255},
	}
)

// drawChart draws the run into file, a .png or an .svg: responses per
// interval stacked by generation above, errors per interval by class
// below, a dashed line at each restart signal and a dotted one at each old
// worker's exit, and the stage and totals in the title.
func drawChart(res result, file string) error {
	bin, bins := chartBins(res.samples)
	if bins == 0 {
		return fmt.Errorf("%s: the run has no samples to draw", file)
	}
	rep := res.report
	var err error
	top, bottom := panels(fmt.Sprintf("%s, %d clients: %s, %d requests, %d failed", res.title, res.clients, restartsText(res.restarts), rep.Sent, rep.Failed()),
		fmt.Sprintf("OK responses per %v", bin), fmt.Sprintf("errors per %v", bin), bin, bins)

	// Responses, stacked by generation: draw the running sums from the
	// top down, each filled with its generation's colour.
	order := generations(res.samples, func(s sample) map[int]int { return s.byGen })
	okStack := stack(res.samples, bin, bins, len(order), func(s sample, i int) int { return s.byGen[order[i]] })
	legend := make([]*plotter.Line, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		c := genRGB[(order[i]-1+len(genRGB))%len(genRGB)]
		if legend[i], err = addArea(top, okStack[i], c); err != nil {
			return err
		}
	}
	for i, g := range order {
		top.Legend.Add(fmt.Sprintf("generation %d: %d", g, rep.ByGen[g]), legend[i])
	}
	errStack := stack(res.samples, bin, bins, len(load.Classes), func(s sample, i int) int { return s.errs[load.Classes[i]] })
	legend = make([]*plotter.Line, len(load.Classes))
	for i := len(load.Classes) - 1; i >= 0; i-- {
		if legend[i], err = addArea(bottom, errStack[i], errRGB[load.Classes[i]]); err != nil {
			return err
		}
	}
	for i, c := range load.Classes {
		if rep.Errors[c] > 0 {
			bottom.Legend.Add(fmt.Sprintf("%s %d", c, rep.Errors[c]), legend[i])
		}
	}
	if rep.Failed() == 0 {
		bottom.Title.Text = "no errors"
		bottom.Y.Max = 1
	}
	if err := addMarks(top, res.events, peak(okStack)); err != nil {
		return err
	}
	if err := addMarks(bottom, res.events, peak(errStack)); err != nil {
		return err
	}
	return save([][]*plot.Plot{{top}, {bottom}}, file)
}

// panels returns a chart's two plots, styled, their x axis over bins of
// bin: the top one with title and y label topY, the bottom one with y label
// bottomY and the time axis's label.
func panels(title, topY, bottomY string, bin time.Duration, bins int) (top, bottom *plot.Plot) {
	top, bottom = plot.New(), plot.New()
	top.Title.Text, top.Y.Label.Text = title, topY
	bottom.Y.Label.Text = bottomY
	bottom.X.Label.Text = "seconds since the load started (dashed: restart signal, dotted: old worker exited)"
	for _, p := range []*plot.Plot{top, bottom} {
		style(p)
		p.X.Min, p.X.Max = 0, (time.Duration(bins) * bin).Seconds()
	}
	return top, bottom
}

// restartsText is "1 restart" or "N restarts".
func restartsText(n int) string {
	if n == 1 {
		return "1 restart"
	}
	return fmt.Sprintf("%d restarts", n)
}

// generations lists, in order, the generations that m has a key for in
// any of the samples.
func generations(samples []sample, m func(sample) map[int]int) []int {
	seen := map[int]bool{}
	for _, s := range samples {
		for g := range m(s) {
			seen[g] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// style sets fonts and sizes that a room can read.
func style(p *plot.Plot) {
	p.Title.TextStyle.Font.Size = 20
	p.X.Label.TextStyle.Font.Size = 15
	p.Y.Label.TextStyle.Font.Size = 15
	p.X.Tick.Label.Font.Size = 14
	p.Y.Tick.Label.Font.Size = 14
	p.Legend.TextStyle.Font.Size = 14
	p.Legend.Top = true
	p.Legend.Left = false
	p.Y.Min = 0
	p.X.Tick.Marker = ticks{unit: "s", fractions: true}
	p.Y.Tick.Marker = ticks{}
	p.Add(plotter.NewGrid())
}

// chartBins picks an interval for the chart: about 100 bars over the run,
// at least 2 ms (the recorder's resolution), a round number.
func chartBins(samples []sample) (time.Duration, int) {
	if len(samples) == 0 {
		return 0, 0
	}
	total := samples[len(samples)-1].at
	bin := 2 * time.Millisecond
	for _, b := range []time.Duration{2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000} {
		bin = b * time.Millisecond
		if total/bin <= 120 {
			break
		}
	}
	return bin, int((total + bin - 1) / bin)
}

// stack returns, for n series, the running sum over series 0..i of the
// per-bin increase of get(sample, i), as step points.
func stack(samples []sample, bin time.Duration, bins, n int, get func(sample, int) int) []plotter.XYs {
	out := make([]plotter.XYs, n)
	for i := range out {
		out[i] = make(plotter.XYs, bins+1)
	}
	at := func(t time.Duration) sample { // the last sample at or before t
		k := sort.Search(len(samples), func(j int) bool { return samples[j].at > t })
		if k == 0 {
			return sample{}
		}
		return samples[k-1]
	}
	prev := sample{}
	for b := 0; b <= bins; b++ {
		end := time.Duration(b+1) * bin
		cur := at(end)
		sum := 0.0
		for i := 0; i < n; i++ {
			sum += float64(get(cur, i) - get(prev, i))
			out[i][b] = plotter.XY{X: (time.Duration(b) * bin).Seconds(), Y: sum}
		}
		prev = cur
	}
	return out
}

// addArea adds one filled step series to p.
func addArea(p *plot.Plot, xys plotter.XYs, c color.RGBA) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.StepStyle = plotter.PostStep
	l.FillColor = c
	l.LineStyle.Width = 0
	p.Add(l)
	return l, nil
}

// ticks puts up to ten round ticks on an axis; the unit follows each
// label. Whole numbers only unless fractions is set.
type ticks struct {
	unit      string
	fractions bool
	most      int // at most this many ticks; 10 if zero
}

func (t ticks) Ticks(min, max float64) []plot.Tick {
	span := max - min
	if span <= 0 {
		return nil
	}
	most := 10
	if t.most > 0 {
		most = t.most
	}
	base := math.Pow(10, math.Floor(math.Log10(span))-1)
	step := base * 100
	for _, f := range []float64{1, 2, 2.5, 5, 10, 20, 25, 50, 100} {
		if span/(base*f) <= float64(most) {
			step = base * f
			break
		}
	}
	if !t.fractions {
		step = math.Max(step, 1)
	}
	decimals := 0
	for d := step; d != math.Trunc(d) && decimals < 6; d *= 10 {
		decimals++
	}
	var out []plot.Tick
	for k := math.Ceil(min / step); k*step <= max+step/1e6; k++ {
		v := k * step
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64) + t.unit})
	}
	return out
}

// peak is the highest point of a stack (its last series is the total).
func peak(st []plotter.XYs) float64 {
	m := 0.0
	if len(st) == 0 {
		return 0
	}
	for _, xy := range st[len(st)-1] {
		m = math.Max(m, xy.Y)
	}
	return m
}

// addMarks draws a vertical line at each restart signal (dashed) and each
// old worker's exit (dotted), over the whole height of p.
func addMarks(p *plot.Plot, events []event, ymax float64) error {
	if ymax <= 0 {
		ymax = 1
	}
	p.Y.Max = ymax * 1.45 // room for the legend above the bars
	for _, e := range events {
		var dash []vg.Length
		switch e.kind {
		case evSignal:
			dash = []vg.Length{vg.Points(8), vg.Points(5)}
		case evExit:
			dash = []vg.Length{vg.Points(2), vg.Points(4)}
		default:
			continue
		}
		x := e.at.Seconds()
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: p.Y.Max}})
		if err != nil {
			return err
		}
		l.LineStyle.Width = vg.Points(2)
		l.LineStyle.Dashes = dash
		l.LineStyle.Color = color.Black
		p.Add(l)
	}
	return nil
}

// save draws the plots, in rows and columns with aligned axes, into a .png
// or .svg file.
func save(plots [][]*plot.Plot, file string) error {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch filepath.Ext(file) {
	case ".png":
		img := vgimg.NewWith(vgimg.UseWH(chartW, chartH), vgimg.UseDPI(chartDPI))
		c = withWriter{img, vgimg.PngCanvas{Canvas: img}}
	case ".svg":
		c = vgsvg.New(chartW, chartH)
	default:
		return fmt.Errorf("%s: want .png or .svg", file)
	}
	dc := draw.New(c)
	r := dc.Rectangle // a PNG is transparent otherwise
	dc.FillPolygon(color.White, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
	t := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6),
		PadRight: vg.Points(18), PadY: vg.Points(10), PadX: vg.Points(24)}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// withWriter is a PNG canvas: drawn on as an image, written as a PNG.
type withWriter struct {
	*vgimg.Canvas
	png vgimg.PngCanvas
}

func (w withWriter) WriteTo(out io.Writer) (int64, error) { return w.png.WriteTo(out) }
