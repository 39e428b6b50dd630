// Command ssevents is the ssevents hub and its tools:
//
//	ssevents serve     run the hub: SSE endpoint, publish API, demo page
//	ssevents publish   publish one event to a hub
//	ssevents tail      print the events of topics as they arrive
//	ssevents presence  show who is present on a topic
//	ssevents token     mint a JWT for development
//	ssevents bench     load-test a hub
//
// Run "ssevents <command> -h" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand: it parses args with its own flag.FlagSet and
// runs until done or until ctx ends.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the hub (SSE endpoint, publish API, demo page)", runServe},
	{"publish", "publish one event to a hub", runPublish},
	{"tail", "print the events of topics as they arrive", runTail},
	{"presence", "show who is present on a topic", runPresence},
	{"token", "mint a JWT for development", runToken},
	{"bench", "load-test a hub", runBench},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as one line (see errorLine) and returns the
// process's exit status: 0 for success and for help that was asked for, 2
// for a command line that could not be used, 1 for any other failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	_, _ = fmt.Fprintln(stderr, errorLine(err))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// errorLine is err as the command line prints it: one line with one
// prefix, "ssevents <command>: <what went wrong>" for a command's failure
// (an error whose message starts with "<command>: " or "<command> --"),
// "ssevents: <what went wrong>" otherwise. The "ssevents: " prefixes of
// wrapped errors (a server's message, a client error) are not repeated,
// and the lines of joined errors are joined with "; ".
func errorLine(err error) string {
	msg := strings.TrimPrefix(err.Error(), "ssevents: ")
	msg = strings.ReplaceAll(msg, ": ssevents: ", ": ")
	var lines []string
	for l := range strings.SplitSeq(msg, "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "ssevents: ")); l != "" {
			lines = append(lines, l)
		}
	}
	msg = strings.Join(lines, "; ")
	for _, c := range commands {
		if strings.HasPrefix(msg, c.name+": ") || strings.HasPrefix(msg, c.name+" --") {
			return "ssevents " + msg
		}
	}
	return "ssevents: " + msg
}

// bareError is an error whose message drops the "ssevents: " prefix (and
// the given ones after it), to be wrapped in a message that already has
// one; errors.Is and As still see the error.
type bareError struct {
	err      error
	prefixes []string
}

// Error returns the message without the prefixes.
func (e bareError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "ssevents: ")
	for _, p := range e.prefixes {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// Unwrap returns the error, for errors.Is and As.
func (e bareError) Unwrap() error { return e.err }

// bare returns err without the "ssevents: " prefix of its message, nor
// the other prefixes given, for fmt.Errorf("publish: %w", bare(err)).
func bare(err error, prefixes ...string) error {
	if err == nil {
		return nil
	}
	return bareError{err, prefixes}
}

// usageError is a command line that could not be used: an unknown command
// or flag, a bad flag value, a stray argument.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// asUsage marks err, when not nil and not a request for help, as a usage
// error.
func asUsage(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &usageError{err}
}

// run dispatches args to a subcommand. Help that was asked for (-h,
// --help, help) goes to stdout; a mistake is one line (the returned
// error), without the usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{fmt.Errorf("no command given; commands: %s (see ssevents -h)", commandNames())}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		usage(stdout)
		return flag.ErrHelp
	}
	for _, c := range commands {
		if c.name == args[0] {
			if wantsHelp(args[1:]) {
				stderr = stdout // the command's flag help, asked for
			}
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return &usageError{fmt.Errorf("unknown command %q; commands: %s (see ssevents -h)", args[0], commandNames())}
}

// commandNames lists the commands, for an error line.
func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// wantsHelp reports whether a command's arguments ask for its help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	_, _ = fmt.Fprintln(w, "usage: ssevents <command> [flags]\n\ncommands:")
	for _, c := range commands {
		_, _ = fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	_, _ = fmt.Fprintln(w, "\nRun \"ssevents <command> -h\" for a command's flags.")
}
