package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssevents/ssevents/client"
)

// ansi matches an ANSI colour sequence.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// at is a fixed receipt time for the formatting tests.
var at = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func printLines(t *testing.T, p *tailPrinter, buf *bytes.Buffer, evs ...client.Event) []string {
	t.Helper()
	for _, ev := range evs {
		if err := p.print(ev, at); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func TestTailPrinterColumns(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newTailPrinter(&buf, []string{"orders"}, false, 120)
	lines := printLines(t, p, &buf,
		client.Event{ID: "1764560000123-7", Name: "created", Topic: "orders", Data: json.RawMessage("{\n  \"n\": 1\n}")},
		client.Event{ID: "9-1", Name: "paid", Topic: "orders", Data: json.RawMessage(`"x"`)},
		client.Event{Kind: client.KindResync, Name: "resync", Topic: "orders", Topics: []string{"orders"}, Data: json.RawMessage(`{"topics":["orders"]}`)},
	)
	want := []string{
		`03:04:05.006  orders  created   1764560000123-7  {"n":1}`,
		`03:04:05.006  orders  paid      9-1              "x"`,
		`03:04:05.006  orders  [resync]  -                {"topics":["orders"]}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// A wider name widens its column; later lines align with the widest
	// so far.
	buf.Reset()
	lines = printLines(t, p, &buf,
		client.Event{ID: "9-2", Name: "paid", Topic: "orders", Data: json.RawMessage(`1`)},
		client.Event{Kind: client.KindHeartbeat, Name: "heartbeat", Topic: "orders", Data: json.RawMessage(`{"time":"2026-01-02T03:04:05Z"}`)},
		client.Event{Kind: client.KindTokenExpired, Name: "token_expired", Topic: "orders", Data: json.RawMessage(`{"exp":1}`)},
		client.Event{ID: "9-3", Name: "paid", Topic: "orders", Data: json.RawMessage(`2`)},
	)
	if lines[0] != `03:04:05.006  orders  paid      9-2              1` {
		t.Errorf("line after the growth = %q", lines[0])
	}
	if !strings.Contains(lines[1], "[heartbeat]") || !strings.Contains(lines[2], "[token_expired]") {
		t.Errorf("notices not marked: %q", lines[1:3])
	}
	last := lines[3]
	if want := `03:04:05.006  orders  paid             9-3              2`; last != want {
		t.Errorf("last line = %q, want %q (aligned with [token_expired])", last, want)
	}
	if i := strings.Index(lines[2], `{"exp"`); utf8.RuneCountInString(lines[2][:i]) != utf8.RuneCountInString(last[:len(last)-1]) {
		t.Errorf("data columns differ:\n%s\n%s", lines[2], last)
	}
}

// TestTailPrinterWholeIDs: ids are printed whole, however long (they are
// pasted into --last-event-id), and the id column grows to the longest.
func TestTailPrinterWholeIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newTailPrinter(&buf, []string{"t"}, false, 120)
	const long = "1764560000123-1234567890"
	lines := printLines(t, p, &buf,
		client.Event{ID: long, Name: "e", Topic: "t", Data: json.RawMessage(`1`)},
		client.Event{ID: "1-1", Name: "e", Topic: "t", Data: json.RawMessage(`2`)},
	)
	want := []string{
		"03:04:05.006  t  e         " + long + "  1",
		"03:04:05.006  t  e         1-1" + strings.Repeat(" ", len(long)-3) + "  2",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestTailPrinterSeveralTopics(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newTailPrinter(&buf, []string{"a", "bb"}, false, 0)
	lines := printLines(t, p, &buf,
		client.Event{ID: "1-1", Name: "e", Topic: "a", Data: json.RawMessage(`{}`)},
		client.Event{ID: "1-2", Name: "e", Topic: "bb", Data: json.RawMessage(`{}`)},
		client.Event{ID: "1-3", Name: "e", Data: json.RawMessage(`{}`)})
	for i, want := range []string{
		`03:04:05.006  a   e         1-1              {}`,
		`03:04:05.006  bb  e         1-2              {}`,
		// A server that predates the topic field does not say which.
		`03:04:05.006  -   e         1-3              {}`,
	} {
		if lines[i] != want {
			t.Errorf("line %d = %q, want %q", i, lines[i], want)
		}
	}
}

func TestTailPrinterTruncates(t *testing.T) {
	t.Parallel()
	long := json.RawMessage(`{"text":"` + strings.Repeat("é", 300) + `"}`)
	for _, width := range []int{0, 60, 200} {
		var buf bytes.Buffer
		p := newTailPrinter(&buf, []string{"t"}, false, width)
		line := printLines(t, p, &buf, client.Event{ID: "1-1", Name: "e", Topic: "t", Data: long})[0]
		want := width
		if want == 0 {
			want = defaultLineWidth
		}
		if n := utf8.RuneCountInString(line); n != want || !strings.HasSuffix(line, "…") {
			t.Errorf("width %d: line of %d runes ending %q, want %d ending with …", width, n, line[len(line)-8:], want)
		}
	}
	// A short line is not cut, and a terminal too narrow still shows some data.
	var buf bytes.Buffer
	p := newTailPrinter(&buf, []string{"t"}, false, 10)
	line := printLines(t, p, &buf, client.Event{ID: "1-1", Name: "e", Topic: "t", Data: long})[0]
	if !strings.Contains(line, `{"text":"éééééé…`) {
		t.Errorf("narrow terminal: %q, want %d runes of data", line, minDataWidth)
	}
}

func TestTailPrinterColour(t *testing.T) {
	t.Parallel()
	evs := []client.Event{
		{ID: "1-1", Name: "created", Topic: "t", Data: json.RawMessage(`{"a":1}`)},
		{Kind: client.KindResync, Name: "resync", Topic: "t", Data: json.RawMessage(`{"topics":["t"]}`)},
		{Kind: client.KindTokenExpired, Name: "token_expired", Topic: "t", Data: json.RawMessage(`{"exp":1}`)},
		{Kind: client.KindHeartbeat, Name: "heartbeat", Topic: "t", Data: json.RawMessage(`{}`)},
	}
	var plain, coloured bytes.Buffer
	plainLines := printLines(t, newTailPrinter(&plain, []string{"t"}, false, 120), &plain, evs...)
	colourLines := printLines(t, newTailPrinter(&coloured, []string{"t"}, true, 120), &coloured, evs...)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("colour off printed escapes: %q", plain.String())
	}
	for i, want := range []string{ansiCyan, ansiYellow, ansiRed, ansiDim + "[heartbeat]"} {
		if !strings.Contains(colourLines[i], want) {
			t.Errorf("coloured line %d = %q, want %q in it", i, colourLines[i], want)
		}
		if got := ansi.ReplaceAllString(colourLines[i], ""); got != plainLines[i] {
			t.Errorf("coloured line %d without its colours = %q, want the plain %q", i, got, plainLines[i])
		}
	}
}

func TestPrintJSON(t *testing.T) {
	t.Parallel()
	local := at.In(time.FixedZone("X", 3600))
	for _, tt := range []struct {
		ev   client.Event
		want string
	}{
		{client.Event{ID: "1-1", Name: "e", Topic: "t", Data: json.RawMessage("{\n \"a\": [1, 2]\n}")},
			`{"time":"2026-01-02T03:04:05.006Z","topic":"t","event":"e","id":"1-1","data":{"a":[1,2]}}`},
		{client.Event{ID: "1-2", Name: "e", Data: json.RawMessage("not\njson")},
			`{"time":"2026-01-02T03:04:05.006Z","topic":"","event":"e","id":"1-2","data":"not\njson"}`},
		{client.Event{Kind: client.KindResync, Name: "resync", Topic: "t", Topics: []string{"t"}, Data: json.RawMessage(`{"topics":["t"]}`)},
			`{"time":"2026-01-02T03:04:05.006Z","topic":"t","event":"resync","id":"","data":{"topics":["t"]},"resync":["t"]}`},
	} {
		var buf bytes.Buffer
		if err := printJSON(&buf, tt.ev, local); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tt.want+"\n" {
			t.Errorf("printJSON(%+v) = %s, want %s", tt.ev, got, tt.want)
		}
	}
}

func TestColourAndWidthOffATerminal(t *testing.T) {
	t.Parallel()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	unset := func(string) string { return "" }
	wide := func(k string) string { return map[string]string{"COLUMNS": "200"}[k] }
	for name, w := range map[string]any{"buffer": &bytes.Buffer{}, "/dev/null": devNull} {
		w := w.(interface{ Write([]byte) (int, error) })
		if useColor(w, unset) {
			t.Errorf("%s: colour on, want off (not a terminal)", name)
		}
		if got := lineWidth(w, wide); got != defaultLineWidth {
			t.Errorf("%s: width %d, want the default %d", name, got, defaultLineWidth)
		}
	}
}
