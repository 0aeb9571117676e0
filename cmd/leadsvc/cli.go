package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leadsvc/leadsvc/projections/leads"
)

// cli is the command line of one run. cobra parses it and answers --help
// and -h on every command before any action runs, so that asking for
// help never reads the configuration, opens a database or listens.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	// ran is set once an action starts: errors before it are mistakes in
	// the command line.
	ran bool
}

// action is the work of one command: the configuration is read and
// validated only when it runs.
func (c *cli) action(fn func(ctx context.Context, cfg Config, logger *slog.Logger, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c.ran = true
		cfg, err := LoadConfig(c.getenv)
		if err != nil {
			return configError{err}
		}
		return fn(cmd.Context(), cfg, newLogger(cfg, c.stderr), args)
	}
}

const envHelp = `Configuration comes from the environment (README.md, "Configuration"):
DATABASE_URL, NATS_URL, LEADSVC_ADDR, LEADSVC_DATA_DIR, LEADSVC_SECRET_KEY,
LEADSVC_SECRET_KEYS_PREVIOUS, LEADSVC_PUBLIC_URL, LEADSVC_LOG_FORMAT, LEADSVC_LOG_LEVEL and the limits.`

func (c *cli) commands() *cobra.Command {
	root := &cobra.Command{
		Use:   "leadsvc",
		Short: "an event-sourced lead service",
		Long: "leadsvc — an event-sourced lead service: the API, the relay and the projections,\n" +
			"and the operator and auditor commands.\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(c.stderr, cmd.UsageString())
			return usageError{"name a command"}
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Sprintf("%s: %v", commandName(cmd), err)}
	})
	root.AddCommand(
		&cobra.Command{
			Use:   "serve",
			Short: "run the API, the relay and the projections",
			Long: "Migrate the database, then serve HTTP on LEADSVC_ADDR (the API under /v1, the console,\n" +
				"/livez, /healthz, /readyz, /metrics), relay the log to NATS (NATS_URL, or an embedded\n" +
				"server under the data directory) and keep the read views. SIGINT or SIGTERM fails\n" +
				"/readyz, keeps serving for LEADSVC_SHUTDOWN_DELAY, then drains and stops; a second\n" +
				"signal stops at once. Refuses to start when the secret key cannot open the secrets already stored.\n\n" + envHelp,
			Args: noArgs,
			RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
				return serve(ctx, cfg, logger)
			}),
		},
		&cobra.Command{
			Use:   "migrate",
			Short: "apply the database migrations",
			Long:  "Apply the embedded migrations to DATABASE_URL; a second run changes nothing.\n\n" + envHelp,
			Args:  noArgs,
			RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
				return migrate(ctx, cfg, logger)
			}),
		},
		group("account", "manage accounts", c.accountCreateCommand()),
		group("token", "mint tokens from the server", c.tokenCreateCommand()),
		c.keysCommand(),
		c.demoCommand(),
		c.projectionCommand("rebuild", "rebuild the read views from the event log and swap them in",
			"Rebuild the read views from the event log into fresh tables and swap them in while a\n"+
				"running service keeps serving; progress, events/s and ETA on stderr.", rebuildCmd),
		c.projectionCommand("verify", "rebuild into shadow tables and report how the live views differ",
			"Rebuild into shadow tables and compare them with the live views; print every\n"+
				"difference and exit 1 on any.", verifyCmd),
		group("history", "a lead's or a token's history from the log",
			c.historyCommand("lead", "a lead's every event, its hash chain, and the lead as it was at --at"),
			c.historyCommand("token", "a token's lifecycle and writes, and with --at the leads it could read then")),
		group("audit", "check the log's integrity", &cobra.Command{
			Use:   "verify",
			Short: "check every stream's hash chain",
			Long: "Recompute every stream's hash chain, with progress on stderr; name the first broken\n" +
				"link of each broken stream and exit 1 on any. Reads only; needs no secret key.\n\n" + envHelp,
			Args: noArgs,
			RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
				return auditVerify(ctx, cfg, logger, c.stdout, c.stderr)
			}),
		}),
		&cobra.Command{
			Use:   "healthcheck",
			Short: "exit 0 when the service on LEADSVC_ADDR's port is ready",
			Long: "Ask the service listening on this machine at LEADSVC_ADDR's port for /readyz; print\n" +
				"its answer and exit 0 when it is 200, 1 otherwise (draining, a dependency down, no\n" +
				"answer). For container health checks: the image has no curl.\n\n" + envHelp,
			Args: noArgs,
			RunE: c.action(func(ctx context.Context, cfg Config, _ *slog.Logger, _ []string) error {
				return healthcheck(ctx, cfg, c.stdout)
			}),
		},
		&cobra.Command{
			Use:   "version",
			Short: "print the version",
			Args:  noArgs,
			RunE: func(*cobra.Command, []string) error {
				c.ran = true
				_, err := fmt.Fprintln(c.stdout, version)
				return err
			},
		},
	)
	// Each Use line names its flags itself.
	var plain func(*cobra.Command)
	plain = func(cmd *cobra.Command) {
		cmd.DisableFlagsInUseLine = true
		for _, sub := range cmd.Commands() {
			plain(sub)
		}
	}
	plain(root)
	return root
}

// commandName is a command's path without the program's name.
func commandName(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return cmd.Name()
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// group is a command that only holds subcommands.
func group(name, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   name + " COMMAND",
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			names := make([]string, 0, len(subs))
			for _, s := range subs {
				names = append(names, s.Name())
			}
			return usageError{fmt.Sprintf("%s: name a command: %s", commandName(cmd), strings.Join(names, ", "))}
		},
	}
	g.AddCommand(subs...)
	return g
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{msg}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", commandName(cmd), args[0])}
	}
	return nil
}

func (c *cli) accountCreateCommand() *cobra.Command {
	var (
		name   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--json]",
		Short: "create an account and its first admin token",
		Long: "Create an account and its first account-level token with every permission\n" +
			"(admin, read, write, audit); the secret is printed once.\n\n" + envHelp,
		Args: noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return accountCreate(ctx, cfg, logger, name, asJSON, c.stdout)
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "the account's name (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"account_id": "…", "token": "lsk_…"}`)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (c *cli) demoCommand() *cobra.Command {
	var reset bool
	cmd := &cobra.Command{
		Use:   "demo [--reset]",
		Short: "create (once) a demo account, campaign and tokens; print them",
		Long: "Create, once, a demo account with a campaign, a partner filter and tokens, kept in the\n" +
			"data directory, and print them with their secrets; a second run prints the same.\n" +
			"--reset revokes the kept demo's partner tokens and creates a fresh demo account.\n\n" + envHelp,
		Args: noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return demo(ctx, cfg, logger, c.stdout, reset)
		}),
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "revoke the kept demo's partner tokens and start over with a fresh demo account")
	return cmd
}

func (c *cli) projectionCommand(name, short, long string,
	fn func(context.Context, Config, *slog.Logger, string, io.Writer, io.Writer) error) *cobra.Command {
	var projection string
	cmd := &cobra.Command{
		Use:   name + " [--projection NAME]",
		Short: short,
		Long:  long + "\n\n" + envHelp,
		Args:  noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			if projection != leads.Name {
				return usageError{fmt.Sprintf("%s: unknown projection %q (known: %s)", name, projection, leads.Name)}
			}
			return fn(ctx, cfg, logger, projection, c.stdout, c.stderr)
		}),
	}
	cmd.Flags().StringVar(&projection, "projection", leads.Name, "the projection (only "+leads.Name+" so far)")
	return cmd
}

func (c *cli) historyCommand(kind, short string) *cobra.Command {
	var (
		at     string
		asJSON bool
		wide   bool
	)
	cmd := &cobra.Command{
		Use:   kind + " ID [--at T] [--json | --wide]",
		Short: short,
		Long: "The same answers as the audit API, for any account, as text that fits 100 columns,\n" +
			"one table row per event (--wide) or JSON (docs/audit.md).\n" +
			"Reads only; needs no secret key.\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Sprintf("%s: give one %s id", commandName(cmd), kind)}
			}
			return nil
		},
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, args []string) error {
			h, err := parseHistoryArgs(kind, args[0], at, asJSON, wide)
			if err != nil {
				return err
			}
			return historyCmd(ctx, cfg, logger, h, c.stdout)
		}),
	}
	cmd.Flags().StringVar(&at, "at", "", "a time (RFC 3339, or a date: midnight UTC)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&wide, "wide", false, "print one table row per event, however wide")
	cmd.MarkFlagsMutuallyExclusive("json", "wide")
	return cmd
}
