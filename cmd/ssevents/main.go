// Command ssevents is the ssevents hub and its tools:
//
//	ssevents serve     run the hub: SSE endpoint, publish API, demo page
//	ssevents publish   publish one event to a hub
//	ssevents tail      print the events of topics as they arrive
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
	{"token", "mint a JWT for development", runToken},
	{"bench", "load-test a hub", runBench},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		msg := err.Error()
		if !strings.HasPrefix(msg, "ssevents: ") {
			msg = "ssevents: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

// run dispatches args to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return flag.ErrHelp
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ssevents <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
}
