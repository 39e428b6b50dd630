package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
)

// errTailDone ends tail after --count events.
var errTailDone = errors.New("tail: count reached")

// tailLine is an event as tail --json prints it.
type tailLine struct {
	ID     string          `json:"id"`
	Event  string          `json:"event"`
	Topic  string          `json:"topic,omitempty"`
	Resync []string        `json:"resync,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// runTail prints the events of topics as they arrive, one line each, until
// interrupted (or --count events), reconnecting and resuming as needed.
// Connection changes go to stderr.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", "tail --topic a[,b] [--url URL] [--token T] [--last-event-id ID] [--json] [--count N]", stderr)
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "topic(s) to follow, comma-separated (required)")
	lastID := fs.String("last-event-id", "", "resume after this event id")
	asJSON := fs.Bool("json", false, "print each event as a JSON object")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	topics := ssevents.SplitTopics(*topic)
	if len(topics) == 0 {
		fs.Usage()
		return errors.New("tail: --topic is required")
	}
	c, err := client.New(cf.config())
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	defer c.CloseIdleConnections()
	opts := []client.SubscribeOption{client.OnConnState(func(cs client.ConnState) {
		switch {
		case cs.Connected:
			fmt.Fprintf(stderr, "tail: connected to %s, topics %s\n", cf.url, strings.Join(topics, ","))
		case cs.RetryIn > 0:
			fmt.Fprintf(stderr, "tail: %v; reconnecting in %v\n", cs.Err, cs.RetryIn.Round(10*time.Millisecond))
		}
	})}
	if *lastID != "" {
		opts = append(opts, client.ResumeFrom(*lastID))
	}
	n := 0
	err = c.Subscribe(ctx, topics, func(ev client.Event) error {
		if ev.Kind == client.KindResync {
			fmt.Fprintf(stderr, "tail: resync: events may have been missed on %s; refetch their state\n", strings.Join(ev.Topics, ","))
		}
		if err := printEvent(stdout, ev, *asJSON); err != nil {
			return err
		}
		if n++; *count > 0 && n >= *count {
			return errTailDone
		}
		return nil
	}, opts...)
	switch {
	case errors.Is(err, errTailDone), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil
	case err != nil:
		return fmt.Errorf("tail: %w", err)
	}
	return nil
}

// printEvent writes ev as one line: "<id> <event> <data>", data compacted
// onto one line, or a JSON object.
func printEvent(w io.Writer, ev client.Event, asJSON bool) error {
	data := oneLine(ev.Data)
	if asJSON {
		if !json.Valid(data) {
			data, _ = json.Marshal(string(ev.Data))
		}
		b, err := json.Marshal(tailLine{ID: ev.ID, Event: ev.Name, Topic: ev.Topic, Resync: ev.Topics, Data: data})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	id := ev.ID
	if id == "" {
		id = "-"
	}
	_, err := fmt.Fprintf(w, "%s %s %s\n", id, ev.Name, data)
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
