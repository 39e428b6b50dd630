package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTMLReport runs a short bench over worker "processes" and checks the
// page WriteHTML makes of it: one well-formed file that loads nothing from
// elsewhere, with a chart per series and the data behind them, which has
// points for every series.
func TestHTMLReport(t *testing.T) {
	t.Parallel()
	srv := startHub(t)
	rep, err := Run(t.Context(), Config{
		URL: srv.URL, Conns: 4, Rate: 40, Duration: 1500 * time.Millisecond, Topics: 2,
		PerProcess: 2, Spawn: pipeSpawn, ServerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	name := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(f); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>\n<html")) {
		t.Errorf("the page starts with %q, want an HTML document", page[:min(len(page), 40)])
	}
	elements := checkWellFormed(t, page)
	if elements["svg"] != 5 || elements["head"] != 1 || elements["body"] != 1 || elements["title"] < 1 {
		t.Errorf("elements %v, want a head, a body and 5 charts (latency, deliveries, publishes, connections, memory)", elements)
	}
	// Nothing loaded from elsewhere.
	for _, re := range []string{`(?i)\b(src|href|action|xlink:href)\s*=`, `(?i)url\(`, `(?i)@import`, `(?i)<(link|iframe|img|object|embed)\b`} {
		if m := regexp.MustCompile(re).Find(page); m != nil {
			t.Errorf("the page loads something (%q): it must be self-contained", m)
		}
	}

	// The data behind the charts.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="bench-data">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no embedded data")
	}
	var data struct {
		Report map[string]any `json:"report"`
		Series Series         `json:"series"`
	}
	if err := json.Unmarshal(m[1], &data); err != nil {
		t.Fatalf("the embedded data is not JSON: %v", err)
	}
	s := data.Series
	if data.Report["received"] != float64(rep.Received) || rep.Received == 0 {
		t.Errorf("embedded report received %v, want %d", data.Report["received"], rep.Received)
	}
	var delivered uint64
	for i, p := range s.Latency {
		delivered += p.Deliveries
		if p.Deliveries > 0 && (p.P50Ms <= 0 || p.P99Ms < p.P50Ms) || float64(p.T) > s.EndS || i > 0 && p.T != s.Latency[i-1].T+1 {
			t.Errorf("latency point %d %+v: want consecutive seconds within the run (%.1f s), ordered positive percentiles", i, p, s.EndS)
		}
	}
	if len(s.Latency) == 0 || delivered != rep.Received {
		t.Errorf("%d latency points counting %d deliveries, want >= 1 counting all %d", len(s.Latency), delivered, rep.Received)
	}
	var accepted int64
	for _, p := range s.Publishes {
		accepted += p.Accepted
	}
	if len(s.Publishes) == 0 || accepted != rep.Published {
		t.Errorf("%d publish points counting %d, want >= 1 counting all %d published", len(s.Publishes), accepted, rep.Published)
	}
	maxOpen, rss := 0, 0
	for _, smp := range s.Samples {
		maxOpen = max(maxOpen, smp.Open)
		if smp.ServerRSSBytes > 0 {
			rss++
		}
	}
	if len(s.Samples) < 2 || maxOpen != 4 || rss == 0 || s.Samples[0].T >= 1 {
		t.Errorf("samples %+v: want >= 2 from the start, with 4 open at most, and the server's memory", s.Samples)
	}
	if !(0 <= s.PublishStartS && s.PublishStartS < s.PublishEndS && s.PublishEndS <= s.EndS) {
		t.Errorf("phases %.2f..%.2f of %.2f s are not ordered", s.PublishStartS, s.PublishEndS, s.EndS)
	}

	// The JSON report keeps its fields: the series are only in the page.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"series"`, `"latency_by_second"`, `"samples"`, `"publishes"`} {
		if bytes.Contains(b, []byte(k)) {
			t.Errorf("the JSON report has %s: %s", k, b)
		}
	}
}

// TestHTMLReportWithoutSeries: a report without series (and without the
// server's memory) still makes a page, with empty charts and a note.
func TestHTMLReportWithoutSeries(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	rep := &Report{URL: "http://127.0.0.1:1", ServerRSSNote: "no process found <here>"}
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	elements := checkWellFormed(t, buf.Bytes())
	if elements["svg"] != 4 || !strings.Contains(buf.String(), "no data") || !strings.Contains(buf.String(), "no process found &lt;here&gt;") {
		t.Errorf("page without series: %v elements\n%s", elements, buf.String())
	}
}

func TestNiceStep(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]float64{0: 1, -3: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 26: 50, 1999: 2000} {
		if got := niceStep(in); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", in, got, want)
		}
	}
}

// checkWellFormed parses page as strict XML (the report is written to be
// both), fails the test on an error or an unclosed element, and counts the
// elements by name.
func checkWellFormed(t *testing.T, page []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	counts := map[string]int{}
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the page is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && tok.Name.Local != "html" {
				t.Fatalf("root element %q, want html", tok.Name.Local)
			}
			counts[tok.Name.Local]++
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return counts
}

// TestLatencySeries: the workers' histograms of a second merge into one
// point, numbered from the run's start, and a silent second is a point of
// no deliveries.
func TestLatencySeries(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	var a, b, c Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(3 * time.Millisecond)
	c.Record(9 * time.Millisecond)
	results := []WorkerResult{
		{LatencyBySecond: []SecondHistogram{{Unix: 1000, Counts: a.Sparse()}, {Unix: 1003, Counts: c.Sparse()}}},
		{LatencyBySecond: []SecondHistogram{{Unix: 1000, Counts: b.Sparse()}}},
	}
	got := latencySeries(results, start)
	if len(got) != 4 || got[0].T != 0 || got[0].Deliveries != 3 || got[0].P50Ms < 2.9 || got[0].P50Ms > 3.1 ||
		got[1] != (LatencyPoint{T: 1}) || got[2] != (LatencyPoint{T: 2}) || got[3].T != 3 || got[3].Deliveries != 1 {
		t.Errorf("latencySeries = %+v, want seconds 0 (3 deliveries, p50 3 ms), 1 and 2 silent, 3 (1 delivery)", got)
	}
}
