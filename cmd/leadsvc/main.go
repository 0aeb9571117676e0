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

const usage = `leadsvc — an event-sourced lead service

Usage:
  leadsvc serve                          run the API, the relay and the projections
  leadsvc migrate                        apply database migrations
  leadsvc account create --name N [--json]
                                         create an account and its first admin token
  leadsvc demo                           create (once) a demo account, campaign and tokens; print them
  leadsvc rebuild [--projection NAME]    rebuild the read views from the event log and swap them in
  leadsvc verify [--projection NAME]     rebuild into shadow tables and report how the live views differ
  leadsvc history lead|token ID [--at T] [--json]
                                         a lead's or a token's history from the log (and, with --at, the
                                         lead then or the leads the token could read then)
  leadsvc audit verify                   check every stream's hash chain; exit 1 naming each broken one
  leadsvc version                        print the version

Configuration comes from the environment; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it with their own
// environment and writers. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, version)
		return 0
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "leadsvc: configuration:\n%v\n", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	switch args[0] {
	case "serve":
		err = serve(ctx, cfg, logger)
	case "migrate":
		err = migrate(ctx, cfg, logger)
	case "account":
		err = accountCmd(ctx, cfg, logger, args[1:], stdout)
	case "demo":
		err = demo(ctx, cfg, logger, stdout)
	case "rebuild":
		err = rebuildCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	case "verify":
		err = verifyCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	case "history":
		err = historyCmd(ctx, cfg, logger, args[1:], stdout)
	case "audit":
		err = auditCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "leadsvc: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "leadsvc: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "leadsvc: %v\n", err)
		return 1
	}
}

// usageError is a mistake in the command line, answered with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
