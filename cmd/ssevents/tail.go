package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
)

// errTailDone ends tail after --count events.
var errTailDone = errors.New("tail: count reached")

// runTail prints the events of topics as they arrive, one line each, until
// interrupted (or --count events), reconnecting and resuming as needed:
// aligned columns for people (see tailPrinter; in colour on a terminal
// unless NO_COLOR is set), or with --json one JSON object per event for
// scripts (see tailJSON). Connection changes go to stderr. Named heartbeat
// events show as [heartbeat] lines, and neither count towards --count nor
// appear in --json.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", "tail --topic a[,b] [--url URL] [--token T] [--cacert FILE] [--last-event-id ID] [--json] [--count N] [--presence]", stderr)
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "topic(s) to follow, comma-separated (required)")
	lastID := fs.String("last-event-id", "", "resume after this event id")
	asJSON := fs.Bool("json", false, "print each event as one JSON object a line: time, topic, event, id, data")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	presence := fs.Bool("presence", false, "also print who is present on tracked topics, then their joins and leaves")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	topics := ssevents.SplitTopics(*topic)
	if len(topics) == 0 {
		return requiredError("tail", "topic")
	}
	c, err := client.New(cf.config())
	if err != nil {
		return asUsage(fmt.Errorf("tail: %w", bare(err)))
	}
	defer c.CloseIdleConnections()
	printer := newTailPrinter(stdout, topics, useColor(stdout, os.Getenv), lineWidth(stdout, os.Getenv))
	opts := []client.SubscribeOption{client.Heartbeats(), client.OnConnState(func(cs client.ConnState) {
		switch {
		case cs.Connected:
			_, _ = fmt.Fprintf(stderr, "tail: connected to %s, topics %s\n", cf.url, strings.Join(topics, ","))
		case cs.RetryIn > 0:
			_, _ = fmt.Fprintf(stderr, "tail: %v; reconnecting in %v\n", bare(cs.Err), cs.RetryIn.Round(10*time.Millisecond))
		}
	})}
	if *lastID != "" {
		opts = append(opts, client.ResumeFrom(*lastID))
	}
	if *presence {
		opts = append(opts, client.Presence())
	}
	n := 0
	err = c.Subscribe(ctx, topics, func(ev client.Event) error {
		if ev.Kind == client.KindResync {
			why := ""
			if ev.Resync != nil {
				why = " (" + string(ev.Resync.Reason) + ")"
			}
			_, _ = fmt.Fprintf(stderr, "tail: resync: events may have been missed on %s; refetch their state%s\n", strings.Join(ev.Topics, ","), why)
		}
		at := time.Now()
		if ev.Kind == client.KindHeartbeat {
			if *asJSON {
				return nil
			}
			return printer.print(ev, at)
		}
		var err error
		if *asJSON {
			err = printJSON(stdout, ev, at)
		} else {
			err = printer.print(ev, at)
		}
		if err != nil {
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
		return fmt.Errorf("tail: %w", bare(err))
	}
	return nil
}
