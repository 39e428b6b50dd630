package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ssevents/ssevents/internal/check"
)

// urlList is a repeatable --url flag.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Set(v string) error { *l = append(*l, v); return nil }

// benchCheckFlags are bench's flags that --check reads, and whether each
// was given (an absent one means the checker's default, not bench's).
type benchCheckFlags struct {
	urls                            []string
	token, caFile                   string
	conns, topics, rate             *int
	historySize, publishers         *int
	duration, drain, connectTimeout *time.Duration
	historyAge                      *time.Duration
	set                             map[string]bool
	asJSON                          bool
}

// config returns the checker configuration the flags describe.
func (f benchCheckFlags) config(logger *slog.Logger) check.Config {
	pick := func(name string, v *int) int {
		if f.set[name] {
			return *v
		}
		return 0
	}
	pickD := func(name string, v *time.Duration) time.Duration {
		if f.set[name] {
			return *v
		}
		return 0
	}
	return check.Config{
		URLs: f.urls, Token: f.token, CAFile: f.caFile,
		Streams: pick("conns", f.conns), Topics: pick("topics", f.topics), Rate: pick("rate", f.rate),
		HistorySize: pick("history-size", f.historySize), Publishers: pick("publishers", f.publishers),
		Duration: pickD("duration", f.duration), Drain: pickD("drain", f.drain), ConnectTimeout: pickD("connect-timeout", f.connectTimeout),
		HistoryAge: pickD("history-age", f.historyAge),
		Logger:     logger,
	}
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// runBenchCheck is `bench --check`: it runs the delivery checker against
// the hubs, prints its report (one JSON object with --json), and fails
// when an invariant was broken, an unjustified resync included.
func runBenchCheck(ctx context.Context, f benchCheckFlags, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := check.Run(ctx, f.config(logger))
	if err != nil && rep.Streams == 0 {
		err = fmt.Errorf("bench --check: %w", bare(err, "check: "))
		if errors.Is(err, check.ErrInvalidConfig) {
			return asUsage(err) // a flag out of range
		}
		return err
	}
	var werr error
	if f.asJSON {
		b, jerr := json.Marshal(rep)
		if jerr != nil {
			return errors.Join(err, jerr)
		}
		_, werr = fmt.Fprintf(stdout, "%s\n", b)
	} else {
		_, werr = io.WriteString(stdout, rep.String())
	}
	if err == nil && !rep.OK() {
		err = fmt.Errorf("bench --check: the delivery promise was broken: %s", rep.Violations())
	}
	return errors.Join(err, werr)
}
