package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// defaultHubURL is where the client commands look for a hub.
const defaultHubURL = "http://localhost:8000"

// clientFlags are the flags every client command takes.
type clientFlags struct {
	url   string
	token string
}

// register adds --url and --token to fs.
func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", defaultHubURL, "URL of the hub or app")
	fs.StringVar(&f.token, "token", "", "bearer token (default $SSE_TOKEN)")
}

// config returns the client configuration the flags describe.
func (f *clientFlags) config() client.Config {
	token := f.token
	if token == "" {
		token = os.Getenv("SSE_TOKEN")
	}
	return client.Config{URL: f.url, Token: token}
}

// newFlagSet returns a flag set for a client command that prints its usage
// to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "usage: ssevents %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, refusing positional arguments. Its errors are
// usage errors (exit status 2) of one line, naming the command; the usage
// is printed only when asked for (-h).
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard) // the error is returned, to be printed once
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		return asUsage(fmt.Errorf("%s: %w (see ssevents %s -h)", fs.Name(), err, fs.Name()))
	}
	return asUsage(strayArgument(fs, args))
}

// durationValue is a time.Duration flag whose error says what is wanted
// (flag.Duration's says only "parse error").
type durationValue time.Duration

// Set implements flag.Value.
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 5s, 1m30s or 250ms")
	}
	*d = durationValue(v)
	return nil
}

// String implements flag.Value.
func (d *durationValue) String() string { return time.Duration(*d).String() }

// durationFlag defines a duration flag on fs (as fs.Duration does) whose
// bad values are refused with a clear message.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = value
	fs.Var((*durationValue)(p), name, usage+" (a `duration` such as 5s)")
	return p
}

// strayArgument returns the error for a positional argument left after the
// flags, in one line: a value given to a boolean flag with a space
// ("--demo false") is named as such.
func strayArgument(fs *flag.FlagSet, args []string) error {
	if fs.NArg() == 0 {
		return nil
	}
	stray := fs.Arg(0)
	if i := len(args) - fs.NArg(); i > 0 {
		name := strings.TrimLeft(args[i-1], "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				return fmt.Errorf("%s: unexpected argument %q: a boolean flag takes its value after =, as in --%s=%s", fs.Name(), stray, name, stray)
			}
		}
	}
	return fmt.Errorf("%s: unexpected argument %q (see ssevents %s -h)", fs.Name(), stray, fs.Name())
}

// runPublish publishes one event and prints its id. The request carries an
// Idempotency-Key (--idempotency-key, or a generated one), so that the
// client's retries after a 503 or a lost connection publish it once.
func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", "publish --topic t[,t2] --event name --data '{...}' [--idempotency-key K] [--url URL] [--token T]", stderr)
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "topic(s) to publish on, comma-separated (required)")
	event := fs.String("event", "message", "event name")
	data := fs.String("data", "{}", "event data, JSON")
	key := fs.String("idempotency-key", "", "Idempotency-Key of the request, 1-200 visible ASCII characters (default: generated); retries and reruns with the same key publish once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	topics := ssevents.SplitTopics(*topic)
	if len(topics) == 0 {
		fs.Usage()
		return errors.New("publish: --topic is required")
	}
	if *key != "" && sse.ValidateIdempotencyKey(*key) != nil {
		return fmt.Errorf("publish: --idempotency-key %q: want 1 to %d visible ASCII characters", *key, sse.MaxIdempotencyKeyLength)
	}
	if !json.Valid([]byte(*data)) {
		return fmt.Errorf("publish: --data is not valid JSON: %q", *data)
	}
	c, err := client.New(cf.config())
	if err != nil {
		return fmt.Errorf("publish: %w", bare(err))
	}
	defer c.CloseIdleConnections()
	id, err := c.PublishMessage(ctx, client.Message{Topics: topics, Event: *event, Data: json.RawMessage(*data), IdempotencyKey: *key})
	if err != nil {
		return fmt.Errorf("publish: %w", bare(err))
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}
