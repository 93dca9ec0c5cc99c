package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

var (
	offeredColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	goodputColor = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	outageColor  = color.NRGBA{R: 128, G: 128, B: 128, A: 60}
)

// writePlot draws, for each strategy, the offered load (attempts sent per
// second) and the goodput (answers received in time per second) over the
// run, with the outage shaded, in a grid of small plots. The file's
// extension chooses the format: .png or .svg.
func writePlot(path string, cfg outageConfig, results []outageResult) error {
	const cols = 3
	rows := (len(results) + cols - 1) / cols
	peak := 0.0
	for _, r := range results {
		peak = max(peak, r.PeakRPS)
	}
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, r := range results {
		p, err := strategyPlot(cfg, r, peak*1.05)
		if err != nil {
			return err
		}
		plots[i/cols][i%cols] = p
	}

	width, height := 30*vg.Centimeter, vg.Length(rows)*8*vg.Centimeter
	var canvas vg.CanvasWriterTo
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	case ".svg":
		canvas = vgsvg.New(width, height)
	default:
		return fmt.Errorf("plot: unsupported format %q (want .png or .svg)", ext)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	cells := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(cells[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func strategyPlot(cfg outageConfig, r outageResult, ymax float64) (*plot.Plot, error) {
	p := plot.New()
	status := "never recovered"
	if r.Recovered {
		status = fmt.Sprintf("recovered %.1f s after", r.RecoverySeconds)
	}
	p.Title.Text = fmt.Sprintf("%s: %s", r.Strategy, status)
	p.X.Label.Text = "time, s"
	p.Y.Label.Text = "req/s"
	p.X.Min, p.X.Max = 0, cfg.Duration.Seconds()
	p.Y.Min, p.Y.Max = 0, ymax
	p.Y.Tick.Marker = wholeTicks{}
	p.X.Tick.Marker = wholeTicks{}
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Legend.TextStyle.Font.Size = vg.Points(8)

	start, end := cfg.OutageStart.Seconds(), (cfg.OutageStart + cfg.Outage).Seconds()
	band, err := plotter.NewPolygon(plotter.XYs{{X: start, Y: 0}, {X: end, Y: 0}, {X: end, Y: ymax}, {X: start, Y: ymax}})
	if err != nil {
		return nil, err
	}
	band.Color = outageColor
	band.LineStyle.Width = 0
	p.Add(band)

	capacity, err := plotter.NewLine(plotter.XYs{{X: 0, Y: cfg.Capacity}, {X: cfg.Duration.Seconds(), Y: cfg.Capacity}})
	if err != nil {
		return nil, err
	}
	capacity.Color = color.Gray{Y: 120}
	capacity.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(capacity)

	for _, s := range []struct {
		name   string
		ys     []float64
		colour color.Color
	}{{"offered", r.Offered, offeredColor}, {"goodput", r.Goodput, goodputColor}} {
		xys := make(plotter.XYs, len(s.ys))
		for i, y := range s.ys {
			xys[i] = plotter.XY{X: float64(i) + 0.5, Y: y}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = s.colour
		l.Width = vg.Points(1)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Legend.Top = true
	p.Legend.Add("capacity", capacity)
	return p, nil
}

// wholeTicks labels the default ticks without decimals.
type wholeTicks struct{}

func (wholeTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = fmt.Sprintf("%.0f", ticks[i].Value)
		}
	}
	return ticks
}
