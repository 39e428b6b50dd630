package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ssevents/ssevents/client"
)

// defaultHubURL is where the client commands look for a hub.
const defaultHubURL = "http://localhost:8000"

// flagEnv names the variable a flag of the client commands falls back to
// when not given: shown as "(env NAME)" in their help, as serve shows its
// settings.
var flagEnv = map[string]string{ //nolint:gosec // names of variables, not their values
	"token":      "SSE_TOKEN",
	"cacert":     "SSE_CA_FILE",
	"secret":     "SSE_JWT_SECRET",
	"iss":        "SSE_JWT_ISSUER",
	"aud":        "SSE_JWT_AUDIENCE",
	"info-claim": "SSE_PRESENCE_INFO_CLAIM",
}

// clientFlags are the flags every client command takes.
type clientFlags struct {
	url    string
	token  string
	caFile string
}

// register adds --url, --token and --cacert to fs.
func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", defaultHubURL, "URL of the hub or app")
	f.registerAuth(fs)
}

// registerAuth adds --token and --cacert to fs (bench has a --url of its
// own).
func (f *clientFlags) registerAuth(fs *flag.FlagSet) {
	fs.StringVar(&f.token, "token", "", "bearer token")
	fs.StringVar(&f.caFile, "cacert", "", "PEM file of the CA certificates to trust for an https:// URL, besides the system's (a private CA)")
}

// bearer returns --token, else $SSE_TOKEN.
func (f *clientFlags) bearer() string {
	if f.token == "" {
		return os.Getenv("SSE_TOKEN")
	}
	return f.token
}

// caPath returns --cacert, else $SSE_CA_FILE.
func (f *clientFlags) caPath() string {
	if f.caFile == "" {
		return os.Getenv("SSE_CA_FILE")
	}
	return f.caFile
}

// config returns the client configuration the flags describe.
func (f *clientFlags) config() client.Config {
	return client.Config{URL: f.url, Token: f.bearer(), CAFile: f.caPath()}
}

// newFlagSet returns a flag set for a client command that prints its usage
// (see printFlags) to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "usage: ssevents %s\n\nflags:\n", usage)
		printFlags(stderr, fs, nil)
	}
	return fs
}

// printFlags writes the flags of fs but the hidden ones in serve's style
// (settings.PrintUsage): "--name  (env VAR)", then the help and the
// default on an indented line.
func printFlags(w io.Writer, fs *flag.FlagSet, hidden map[string]bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if hidden[f.Name] {
			return
		}
		env := ""
		if v := flagEnv[f.Name]; v != "" {
			env = "  (env " + v + ")"
		}
		_, usage := flag.UnquoteUsage(f)
		def := "; default " + f.DefValue
		switch {
		case strings.Contains(usage, "required"), strings.Contains(usage, "(default"):
			def = "" // the help says it
		case f.DefValue == "":
			def = "; default none"
		}
		_, _ = fmt.Fprintf(w, "  --%s%s\n        %s%s\n", f.Name, env, usage, def)
	})
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
		return asUsage(fmt.Errorf("%s: %s (see ssevents %s -h)", fs.Name(), flagError(fs, err), fs.Name()))
	}
	return asUsage(strayArgument(fs, args))
}

// flagError rewrites an error of package flag with the flag names as the
// help shows them (--addr, not -addr), naming the closest flag for an
// unknown one.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if near := closestFlag(fs, name); near != "" {
			return fmt.Sprintf("unknown flag --%s; did you mean --%s?", name, near)
		}
		return "unknown flag --" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Sprintf("flag --%s needs a value", strings.TrimLeft(name, "-"))
	}
	if strings.Contains(msg, " for flag -") {
		return strings.Replace(msg, " for flag -", " for --", 1)
	}
	return strings.Replace(msg, " for -", " for --", 1)
}

// closestFlag returns the flag of fs at the least edit distance from
// name, when that is at most 2 (a typo), else "".
func closestFlag(fs *flag.FlagSet, name string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

// requiredError is the usage error of a required flag left out.
func requiredError(command, flagName string) error {
	return asUsage(fmt.Errorf("%s: --%s is required (see ssevents %s -h)", command, flagName, command))
}
