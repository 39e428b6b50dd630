package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH                       = 760, 230
	padLeft, padRight, padTop, padBottom = 64, 20, 34, 34
)

// Colours of the report's lines.
const (
	colorP50   = "#2563eb"
	colorP99   = "#dc2626"
	colorMain  = "#0f766e"
	colorOther = "#9333ea"
)

// htmlData is the JSON embedded in the report page, for those who want
// the numbers behind the charts.
type htmlData struct {
	Report *Report `json:"report"`
	Series *Series `json:"series"`
}

// WriteHTML writes the report as one self-contained HTML page: the run's
// figures, then charts drawn as inline SVG (delivery latency p50 and p99
// per second, deliveries and publishes per second, connections open, the
// server's memory when known), and the data behind them as JSON in a
// <script type="application/json" id="bench-data"> element. The page loads
// nothing: no script, style sheet or font from elsewhere.
func (r *Report) WriteHTML(w io.Writer) error {
	s := r.Series
	if s == nil {
		s = &Series{}
	}
	data, err := json.Marshal(htmlData{Report: r, Series: s}) // escapes <, > and &
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	page := struct {
		Title  string
		When   string
		Stats  [][2]string
		Charts []template.HTML
		Text   string
		Data   template.JS
	}{
		Title: "ssevents bench: " + r.URL,
		When:  s.Start.Format(time.RFC1123),
		Stats: r.headline(),
		Text:  text.String(),
		Data:  template.JS(data),
	}
	page.Charts = r.charts(s)
	return reportPage.Execute(w, page)
}

// headline returns the figures shown above the charts.
func (r *Report) headline() [][2]string {
	rate := fmt.Sprintf("%d/s", r.Rate)
	if r.Rate == 0 {
		rate = "max"
	}
	stats := [][2]string{
		{"connections", fmt.Sprintf("%d of %d", r.Connected, r.Conns)},
		{"load", fmt.Sprintf("%s for %s, %d topics", rate, r.Duration, r.Topics)},
		{"published", fmt.Sprintf("%d (%.0f/s)", r.Published, r.PublishRate)},
		{"deliveries", fmt.Sprintf("%d (%.0f/s)", r.Received, r.DeliveriesPerSec)},
		{"lost / duplicates", fmt.Sprintf("%d / %d", r.Lost, r.Duplicates)},
		{"latency p50 / p99", fmt.Sprintf("%.2f / %.2f ms", r.LatencyP50Ms, r.LatencyP99Ms)},
		{"latency p99.9 / max", fmt.Sprintf("%.2f / %.2f ms", r.LatencyP999Ms, r.LatencyMaxMs)},
	}
	if r.ServerRSSPerConnBytes != 0 {
		stats = append(stats, [2]string{"server memory", fmt.Sprintf("%.1f MiB, %.1f KiB per connection", mib(r.ServerRSSConnectedBytes), float64(r.ServerRSSPerConnBytes)/1024)})
	}
	return stats
}

// charts draws the report's charts. A rate of a second is its count over
// the part of the second the phase covered, so that a phase's first and
// last seconds, partly covered, do not show as dips.
func (r *Report) charts(s *Series) []template.HTML {
	xMax := max(s.EndS, 1)
	band := [2]float64{s.PublishStartS, s.PublishEndS}
	// perSecond plots count at the middle of the part of second t within
	// [from, to], as a rate.
	perSecond := func(l *line, t int, count float64, from, to float64) {
		lo, hi := max(float64(t), from), min(float64(t+1), to)
		if hi-lo < 0.05 { // too little of the second to make a rate of
			lo, hi = float64(t), float64(t+1)
		}
		l.add((lo+hi)/2, count/(hi-lo))
	}
	p50 := line{name: "p50", color: colorP50}
	p99 := line{name: "p99", color: colorP99}
	deliveries := line{name: "deliveries/s", color: colorMain}
	for _, p := range s.Latency {
		perSecond(&deliveries, p.T, float64(p.Deliveries), s.PublishStartS, s.EndS)
		if p.Deliveries > 0 {
			x := deliveries.xs[len(deliveries.xs)-1]
			p50.add(x, p.P50Ms)
			p99.add(x, p.P99Ms)
		}
	}
	published := line{name: "accepted/s", color: colorOther}
	for _, p := range s.Publishes {
		perSecond(&published, p.T, float64(p.Accepted), s.PublishStartS, s.PublishEndS)
	}
	open := line{name: "open", color: colorMain}
	rss := line{name: "RSS", color: colorMain}
	for _, smp := range s.Samples {
		open.add(smp.T, float64(smp.Open))
		if smp.ServerRSSBytes > 0 {
			rss.add(smp.T, mib(smp.ServerRSSBytes))
		}
	}
	for _, l := range []line{deliveries, published, open} {
		for _, x := range l.xs {
			xMax = max(xMax, x)
		}
	}
	charts := []template.HTML{
		svgChart("Delivery latency per second", "ms", xMax, band, p50, p99),
		svgChart("Deliveries per second", "events/s", xMax, band, deliveries),
		svgChart("Publishes per second", "events/s", xMax, band, published),
		svgChart("Connections open", "streams", xMax, band, open),
	}
	if len(rss.xs) > 0 {
		charts = append(charts, svgChart("Server memory (RSS)", "MiB", xMax, band, rss))
	} else {
		note := r.ServerRSSNote
		if note == "" {
			note = "the hub's process was not found"
		}
		charts = append(charts, template.HTML(`<p class="note">Server memory unknown: `+html.EscapeString(note)+`</p>`))
	}
	return charts
}

// line is one series of a chart.
type line struct {
	name, color string
	xs, ys      []float64
}

func (l *line) add(x, y float64) {
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return
	}
	l.xs = append(l.xs, x)
	l.ys = append(l.ys, y)
}

// svgChart draws lines over seconds 0 to xMax as an inline SVG, with the
// publish phase (band) shaded, axes with round ticks, a legend, and the
// value of each point in its tooltip.
func svgChart(title, unit string, xMax float64, band [2]float64, lines ...line) template.HTML {
	yMax := 0.0
	for _, l := range lines {
		for _, y := range l.ys {
			yMax = max(yMax, y)
		}
	}
	yStep := niceStep(yMax / 4)
	yTop := math.Max(yStep*math.Ceil(yMax/yStep), yStep)
	xStep := niceStep(xMax / 8)
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBottom)
	px := func(x float64) float64 { return padLeft + x/xMax*plotW }
	py := func(y float64) float64 { return padTop + plotH - y/yTop*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="20" class="title">%s</text>`, padLeft, html.EscapeString(title))
	if band[1] > band[0] {
		x0, x1 := px(math.Max(band[0], 0)), px(math.Min(band[1], xMax))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" class="band"><title>publishing</title></rect>`, x0, padTop, math.Max(x1-x0, 0), plotH)
	}
	for y := 0.0; y <= yTop*1.0001; y += yStep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>`, padLeft, chartW-padRight, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ytick">%s</text>`, padLeft-6, py(y)+4, formatTick(y))
	}
	for x := 0.0; x <= xMax*1.0001; x += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="axis"/>`, px(x), px(x), padTop+plotH, padTop+plotH+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%ss</text>`, px(x), padTop+plotH+17, formatTick(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="axis"/>`, padLeft, chartW-padRight, padTop+plotH, padTop+plotH)
	fmt.Fprintf(&b, `<text x="14" y="%.1f" class="unit" transform="rotate(-90 14 %.1f)">%s</text>`, padTop+plotH/2, padTop+plotH/2, html.EscapeString(unit))
	empty := true
	for i, l := range lines {
		fmt.Fprintf(&b, `<g class="legend"><rect x="%d" y="10" width="12" height="4" fill="%s"/><text x="%d" y="16">%s</text></g>`,
			chartW-padRight-150+i*75, l.color, chartW-padRight-134+i*75, html.EscapeString(l.name))
		if len(l.xs) == 0 {
			continue
		}
		empty = false
		var pts strings.Builder
		for j := range l.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(l.xs[j]), py(l.ys[j]))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round"/>`, strings.TrimSpace(pts.String()), l.color)
		for j := range l.xs {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.4" fill="%s"><title>%.1f s: %s %s %s</title></circle>`,
				px(l.xs[j]), py(l.ys[j]), l.color, l.xs[j], html.EscapeString(l.name), formatValue(l.ys[j]), html.EscapeString(unit))
		}
	}
	if empty {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="empty">no data</text>`, padLeft+plotW/2, padTop+plotH/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceStep returns the smallest of 1, 2 and 5 times a power of ten that is
// at least v (1 for v <= 0).
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// formatTick formats an axis label: no decimals unless needed.
func formatTick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case v >= 1e4:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

// formatValue formats a point's value for its tooltip.
func formatValue(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// reportPage is the page WriteHTML fills. It is well-formed XML as well as
// HTML (every element closed, no entity but XML's), so that a strict
// parser can check it.
var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 800px; color: #1f2937; padding: 0 12px; }
h1 { font-size: 20px; margin: 0 0 4px; }
.when { color: #6b7280; margin: 0 0 16px; }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 8px; margin-bottom: 16px; }
.stat { background: #f3f4f6; border-radius: 6px; padding: 8px 10px; }
.stat b { display: block; font-size: 12px; color: #6b7280; font-weight: normal; }
svg { width: 100%; height: auto; margin: 8px 0 16px; background: #fff; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
svg .title { font-size: 14px; font-weight: 600; fill: #111827; }
svg .ytick, svg .unit { text-anchor: end; }
svg .unit { text-anchor: middle; fill: #6b7280; }
svg .xtick, svg .empty { text-anchor: middle; }
svg .grid { stroke: #e5e7eb; }
svg .axis { stroke: #9ca3af; }
svg .band { fill: #eef2ff; }
.note { color: #6b7280; font-style: italic; }
pre { background: #f9fafb; padding: 10px; overflow-x: auto; font-size: 12px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="when">{{.When}}; the shaded band is the publish phase.</p>
<div class="stats">{{range .Stats}}<div class="stat"><b>{{index . 0}}</b>{{index . 1}}</div>{{end}}</div>
{{range .Charts}}{{.}}
{{end}}<details><summary>Report as text</summary><pre>{{.Text}}</pre></details>
<script type="application/json" id="bench-data">{{.Data}}</script>
</body>
</html>
`))
