package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// stdin is what --data - reads; a variable so that in-process tests can
// replace it.
var stdin io.Reader = os.Stdin

// runPublish publishes one event and prints its id. The request carries an
// Idempotency-Key (--idempotency-key, or a generated one), so that the
// client's retries after a 503 or a lost connection publish it once.
func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", "publish --topic t[,t2] [--event name] [--data '{...}' | @file | -] [--idempotency-key K] [--url URL] [--token T] [--cacert FILE]", stderr)
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "topic(s) to publish on, comma-separated (required)")
	event := fs.String("event", "message", "event name")
	data := fs.String("data", "{}", "event data: JSON, or @FILE to read it from FILE, or - to read it from stdin (as curl -d)")
	key := fs.String("idempotency-key", "", "Idempotency-Key of the request, 1-200 visible ASCII characters (default: generated); retries and reruns with the same key publish once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	topics := ssevents.SplitTopics(*topic)
	if len(topics) == 0 {
		return requiredError("publish", "topic")
	}
	if *key != "" && sse.ValidateIdempotencyKey(*key) != nil {
		return asUsage(fmt.Errorf("publish: --idempotency-key %q: want 1 to %d visible ASCII characters", *key, sse.MaxIdempotencyKeyLength))
	}
	body, err := readData(*data, stdin)
	if err != nil {
		return err
	}
	c, err := client.New(cf.config())
	if err != nil {
		return asUsage(fmt.Errorf("publish: %w", bare(err)))
	}
	defer c.CloseIdleConnections()
	id, err := c.PublishMessage(ctx, client.Message{Topics: topics, Event: *event, Data: json.RawMessage(body), IdempotencyKey: *key})
	if err != nil {
		return fmt.Errorf("publish: %w", bare(err))
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// readData returns the event data --data names: the value itself, the
// contents of a file for @FILE, or all of in for "-" (curl's convention),
// without surrounding white space. Data that is not JSON is a usage
// error naming where it came from; a file that cannot be read, a failure.
func readData(v string, in io.Reader) ([]byte, error) {
	var b []byte
	from := "--data"
	switch {
	case v == "-":
		var err error
		if b, err = io.ReadAll(in); err != nil {
			return nil, fmt.Errorf("publish: --data -: reading stdin: %w", err)
		}
		from = "--data - (stdin)"
	case strings.HasPrefix(v, "@"):
		var err error
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("publish: --data %s: %w", v, err)
		}
		from = "--data " + v
	default:
		b = []byte(v)
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, asUsage(fmt.Errorf("publish: %s is not valid JSON: %q", from, cut(string(b), 60)))
	}
	return b, nil
}

// cut returns s, cut to n bytes with an ellipsis when longer.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
