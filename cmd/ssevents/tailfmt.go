package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssevents/ssevents/client"
)

// Layout of tail's lines.
const (
	// defaultLineWidth is the width a line is cut to when the terminal's
	// is not known (or stdout is not a terminal).
	defaultLineWidth = 120
	// idWidth is the least width of the id column: that of an id of
	// today's milliseconds and a one-digit sequence ("1764597787412-0").
	// Ids are printed whole, since they are pasted into --last-event-id;
	// the column grows to the longest seen.
	idWidth = 15
	// maxNameWidth caps the topic and event columns, so that one long
	// name does not push the data off every later line.
	maxNameWidth = 24
	// minDataWidth is the least room left for the data, even on a narrow
	// terminal (the line then wraps).
	minDataWidth = 16
)

// ANSI colours of tail's columns.
const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
	ansiCyan   = "\x1b[36m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
)

// tailPrinter prints events as tail shows them to people: one line each,
// in aligned columns (time, topic, event, id, data), the data compacted
// onto the line and cut to the line width with an ellipsis. The server's
// notices (resync, token_expired, heartbeat) show their name in brackets,
// and in colour when Color is set. Not safe for concurrent use.
type tailPrinter struct {
	w io.Writer
	// Color adds ANSI colours: only for a terminal, and not when NO_COLOR
	// is set (see useColor).
	Color bool
	// Width is the line width to cut the data to; 0 means
	// defaultLineWidth.
	Width int
	// topicW and eventW are the widths of the topic and event columns:
	// they grow to the longest name seen (up to maxNameWidth), so that
	// later lines stay aligned with each other; idW, of the id column,
	// grows to the longest id seen (ids are never cut).
	topicW, eventW, idW int
}

// newTailPrinter returns a printer for the events of topics on w.
func newTailPrinter(w io.Writer, topics []string, color bool, width int) *tailPrinter {
	p := &tailPrinter{w: w, Color: color, Width: width, topicW: 1, eventW: len("[resync]"), idW: idWidth}
	for _, t := range topics {
		p.topicW = max(p.topicW, min(utf8.RuneCountInString(t), maxNameWidth))
	}
	return p
}

// print writes ev, received at at, as one line.
func (p *tailPrinter) print(ev client.Event, at time.Time) error {
	topic := ev.Topic
	if topic == "" {
		topic = "-" // several topics, from a server that does not name them
	}
	name := ev.Name
	if ev.Kind != client.KindEvent {
		name = "[" + ev.Kind.String() + "]"
	}
	id := ev.ID
	if id == "" {
		id = "-"
	}
	topic, name = fit(topic, maxNameWidth), fit(name, maxNameWidth)
	p.topicW = max(p.topicW, utf8.RuneCountInString(topic))
	p.eventW = max(p.eventW, utf8.RuneCountInString(name))
	p.idW = max(p.idW, utf8.RuneCountInString(id))

	width := p.Width
	if width <= 0 {
		width = defaultLineWidth
	}
	stamp := at.Format("15:04:05.000")
	prefix := len(stamp) + 2 + p.topicW + 2 + p.eventW + 2 + p.idW + 2
	data := fit(string(oneLine(ev.Data)), max(width-prefix, minDataWidth))

	var b strings.Builder
	col := func(text string, pad int, color string) {
		if p.Color && color != "" {
			b.WriteString(color + text + ansiReset)
		} else {
			b.WriteString(text)
		}
		b.WriteString(strings.Repeat(" ", max(pad-utf8.RuneCountInString(text), 0)+2))
	}
	nameColor, lineColor := ansiBold, ""
	switch ev.Kind {
	case client.KindResync:
		nameColor, lineColor = ansiYellow+ansiBold, ansiYellow
	case client.KindTokenExpired:
		nameColor, lineColor = ansiRed+ansiBold, ansiRed
	case client.KindHeartbeat:
		nameColor, lineColor = ansiDim, ansiDim
	}
	col(stamp, 0, ansiDim)
	col(topic, p.topicW, ansiCyan)
	col(name, p.eventW, nameColor)
	col(id, p.idW, ansiDim)
	if p.Color && lineColor != "" {
		data = lineColor + data + ansiReset
	}
	b.WriteString(data)
	b.WriteByte('\n')
	_, err := io.WriteString(p.w, b.String())
	return err
}

// fit returns s cut to width runes, its last one an ellipsis when cut.
func fit(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// tailJSON is an event as tail --json prints it: one object a line.
type tailJSON struct {
	// Time is when tail received the event, RFC 3339 in UTC with
	// milliseconds.
	Time string `json:"time"`
	// Topic is the event's topic: the one the stream names in the
	// event's topic field when tail follows several; "" for a
	// token_expired, or from a server that predates the field.
	Topic string `json:"topic"`
	// Event is the event name: "resync" and "token_expired" for the
	// server's notices.
	Event string `json:"event"`
	// ID is the event's id, "" for a notice that has none.
	ID string `json:"id"`
	// Data is the event's data: as it is when it is JSON, else a string.
	Data json.RawMessage `json:"data"`
	// Resync lists, for a resync, the topics whose events may have been
	// missed.
	Resync []string `json:"resync,omitempty"`
}

// printJSON writes ev, received at at, as one JSON object on a line.
func printJSON(w io.Writer, ev client.Event, at time.Time) error {
	data := oneLine(ev.Data)
	if !json.Valid(data) {
		data, _ = json.Marshal(string(ev.Data))
	}
	b, err := json.Marshal(tailJSON{Time: at.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Topic: ev.Topic,
		Event: ev.Name, ID: ev.ID, Data: data, Resync: ev.Topics})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// oneLine returns JSON data without line breaks, or other data with its
// line breaks escaped.
func oneLine(data []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, data) == nil {
		return b.Bytes()
	}
	s := strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(string(data))
	return []byte(s)
}

// useColor reports whether tail colours its lines on w: only when w is a
// terminal and NO_COLOR is unset or empty (https://no-color.org).
func useColor(w io.Writer, getenv func(string) string) bool {
	return isTerminal(w) && getenv("NO_COLOR") == ""
}

// lineWidth returns the width to cut tail's lines to on w: the terminal's
// columns when w is a terminal whose size is known (or $COLUMNS says),
// otherwise defaultLineWidth.
func lineWidth(w io.Writer, getenv func(string) string) int {
	if !isTerminal(w) {
		return defaultLineWidth
	}
	if cols, _ := terminalSize(w.(*os.File)); cols > 0 {
		return cols
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return defaultLineWidth
}
