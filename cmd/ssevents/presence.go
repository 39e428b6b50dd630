package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ssevents/ssevents/client"
)

// runPresence prints who is present on a tracked topic (GET /presence):
// the counts, then one line per member, or with --json the snapshot as
// the hub answers it.
func runPresence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("presence", "presence --topic T [--url URL] [--token T] [--cacert FILE] [--limit N] [--json]", stderr)
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "tracked topic to show (required)")
	limit := fs.Int("limit", 1000, "list at most this many members (0: counts only; the counts are always exact)")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON: topic, users, connections, members")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		return requiredError("presence", "topic")
	}
	c, err := client.New(cf.config())
	if err != nil {
		return asUsage(fmt.Errorf("presence: %w", bare(err)))
	}
	defer c.CloseIdleConnections()
	snap, err := c.PresenceLimit(ctx, *topic, *limit)
	if err != nil {
		return fmt.Errorf("presence: %w", bare(err))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(snap)
	}
	_, _ = fmt.Fprintf(stdout, "%s: %s, %s\n", snap.Topic, plural(snap.Users, "user"), plural(snap.Connections, "connection"))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, m := range snap.Members {
		info := ""
		if len(m.Info) > 0 && string(m.Info) != "null" {
			info = string(m.Info)
		}
		_, _ = fmt.Fprintf(tw, "  %s\t%d\t%s\n", m.User, m.Connections, info)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := snap.Users - len(snap.Members); n > 0 {
		_, _ = fmt.Fprintf(stdout, "  ... and %d more (--limit)\n", n)
	}
	return nil
}

// plural is n and the word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
