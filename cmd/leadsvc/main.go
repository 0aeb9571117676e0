// Command leadsvc is the one binary of the lead service: it serves the API,
// migrates the database and runs the operator and auditor commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts the shutdown (serve keeps answering for
	// LEADSVC_SHUTDOWN_DELAY, then drains); a second one ends the process
	// at once.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it with their own
// environment and writers. It returns the exit code: 0, 1 when a command
// failed, 2 for a mistake in the command line or the configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr}
	root := c.commands()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var (
		ce configError
		ue usageError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "leadsvc: configuration:\n%v\n", ce.err)
		return 2
	case !c.ran || errors.As(err, &ue):
		fmt.Fprintf(stderr, "leadsvc: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return 2
	default:
		fmt.Fprintf(stderr, "leadsvc: %v\n", err)
		return 1
	}
}

// usageError is a mistake in the command line, answered with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// configError is an environment that does not validate (LoadConfig).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
