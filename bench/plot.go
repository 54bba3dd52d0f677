package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// plotColor returns the line color of the i-th reader.
func plotColor(i int) string {
	colors := [...]string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"}
	return colors[i%len(colors)]
}

const (
	plotWidth  = 760
	panelH     = 300
	marginL    = 70
	marginR    = 150
	marginT    = 40
	panelGap   = 70
	plotHeight = marginT + 2*panelH + panelGap + 50
)

// panel is one chart area of the plot: a box in SVG coordinates and the
// data ranges mapped onto it.
type panel struct {
	x0, y0, w, h float64 // the box
	xmax, ymax   float64 // data ranges, from 0
}

func (p panel) px(x float64) float64 { return p.x0 + p.w*x/p.xmax }
func (p panel) py(y float64) float64 { return p.y0 + p.h - p.h*y/p.ymax }

// niceStep returns a tick step of 1, 2 or 5 times a power of ten giving
// about n ticks up to max.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// plotX returns a step's position on the offered-rate axis: flat-out steps
// sit at flatX, right of every offered rate.
func plotX(s Step, flatX float64) float64 {
	if s.OfferedRate == 0 {
		return flatX
	}
	return s.OfferedRate
}

// WritePlot writes an SVG chart of the result: delivered rate against
// offered rate per reader (with the generator's achieved rate dashed and
// the line where delivered equals offered), and loss against offered rate.
func WritePlot(w io.Writer, res *Result) error {
	steps := orderedSteps(res.Steps, res.Readers)
	var maxOffered, maxRate float64
	flat := false
	for _, s := range steps {
		maxOffered = max(maxOffered, s.OfferedRate)
		maxRate = max(maxRate, s.AchievedRate, s.OfferedRate)
		flat = flat || s.OfferedRate == 0
	}
	if maxOffered == 0 {
		maxOffered = maxRate
	}
	flatX := maxOffered
	xmax := maxOffered
	if flat {
		flatX = maxOffered * 1.1
		xmax = maxOffered * 1.15
	}
	xmax = max(xmax, 1)
	ymax := max(maxRate*1.05, 1)
	var maxLoss float64
	for _, s := range steps {
		if s.Counted && s.Error == "" {
			maxLoss = max(maxLoss, 100*s.LossFraction)
		}
	}
	lossMax := max(niceStep(maxLoss*1.1, 5)*5, 1)
	if maxLoss < 1 {
		lossMax = 1
	}
	if lossMax > 100 {
		lossMax = 100
	}

	top := panel{x0: marginL, y0: marginT, w: plotWidth - marginL - marginR, h: panelH, xmax: xmax, ymax: ymax}
	bot := panel{x0: marginL, y0: marginT + panelH + panelGap, w: top.w, h: panelH, xmax: xmax, ymax: lossMax}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("auditdrain bench: %s load, backlog_limit %d, backlog_wait_time %d", res.Load, res.Settings.BacklogLimit, res.Settings.BacklogWaitTime)
	text(&b, plotWidth/2, 20, "middle", 14, title)

	axes(&b, top, flat, flatX, "offered rate (events/s)", "delivered (events/s)", fmtRate)
	axes(&b, bot, flat, flatX, "offered rate (events/s)", "loss (% of events)", func(v float64) string { return fmt.Sprintf("%g%%", v) })
	// Where delivered equals offered.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2,3"/>`+"\n",
		top.px(0), top.py(0), top.px(min(maxOffered, ymax)), top.py(min(maxOffered, ymax)))

	for i, name := range readersOf(steps) {
		color := plotColor(i)
		var delivered, achieved, loss []string
		for _, s := range steps {
			if s.Reader != name || s.Error != "" {
				continue
			}
			x := plotX(s, flatX)
			achieved = append(achieved, fmt.Sprintf("%.1f,%.1f", top.px(x), top.py(s.AchievedRate)))
			if s.Counted && s.Seconds > 0 {
				d := float64(s.OnDisk) / s.Seconds
				delivered = append(delivered, fmt.Sprintf("%.1f,%.1f", top.px(x), top.py(d)))
				loss = append(loss, fmt.Sprintf("%.1f,%.1f", bot.px(x), bot.py(min(100*s.LossFraction, lossMax))))
			}
		}
		polyline(&b, achieved, color, "4,3")
		polyline(&b, delivered, color, "")
		polyline(&b, loss, color, "")
		ly := float64(marginT + 10 + 18*i)
		lx := float64(plotWidth - marginR + 15)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", lx, ly, lx+20, ly, color)
		text(&b, lx+25, ly+4, "start", 12, name)
	}
	ly := float64(marginT + 10 + 18*len(readersOf(steps)) + 10)
	lx := float64(plotWidth - marginR + 15)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-dasharray="4,3"/>`+"\n", lx, ly, lx+20, ly)
	text(&b, lx+25, ly+4, "start", 11, "generated")
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// axes draws a panel's frame, grid, ticks and labels.
func axes(b *bytes.Buffer, p panel, flat bool, flatX float64, xlabel, ylabel string, yfmt func(float64) string) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", p.x0, p.y0, p.w, p.h)
	xstep := niceStep(p.xmax, 6)
	for x := 0.0; x <= p.xmax*1.0001; x += xstep {
		if flat && x > flatX*0.95 {
			break
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", p.px(x), p.y0, p.px(x), p.y0+p.h)
		text(b, p.px(x), p.y0+p.h+15, "middle", 11, fmtRate(x))
	}
	if flat {
		text(b, p.px(flatX), p.y0+p.h+15, "middle", 11, "max")
	}
	ystep := niceStep(p.ymax, 5)
	for y := 0.0; y <= p.ymax*1.0001; y += ystep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", p.x0, p.py(y), p.x0+p.w, p.py(y))
		text(b, p.x0-5, p.py(y)+4, "end", 11, yfmt(y))
	}
	text(b, p.x0+p.w/2, p.y0+p.h+32, "middle", 12, xlabel)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.x0-52, p.y0+p.h/2, p.x0-52, p.y0+p.h/2, escape(ylabel))
}

func polyline(b *bytes.Buffer, pts []string, color, dash string) {
	if len(pts) == 0 {
		return
	}
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s" stroke-opacity="0.6"`, dash)
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, d)
	for _, pt := range pts {
		x, y, _ := strings.Cut(pt, ",")
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", x, y, color)
	}
}

func text(b *bytes.Buffer, x, y float64, anchor string, size int, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, escape(s))
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
