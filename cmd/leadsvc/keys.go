package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/leadsvc/leadsvc/commands"
)

// defaultRotateBatch is how many secrets keys rotate re-seals in one
// transaction: short enough not to hold rows a replica writes for long.
const defaultRotateBatch = 500

func (c *cli) keysCommand() *cobra.Command {
	var asJSON bool
	status := &cobra.Command{
		Use:   "status [--json]",
		Short: "count the stored secrets sealed under each key id",
		Long: "Count the stored token and webhook secrets by the id of the key that sealed them, with\n" +
			"each key's state here: current (LEADSVC_SECRET_KEY), previous (LEADSVC_SECRET_KEYS_PREVIOUS)\n" +
			"or unknown. Exit 1 when some secret no configured key opens (docs/operations.md).\n\n" + envHelp,
		Args: noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return keysStatus(ctx, cfg, logger, asJSON, c.stdout)
		}),
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var batch int
	rotate := &cobra.Command{
		Use:   "rotate [--batch N]",
		Short: "re-seal every stored secret under the current key",
		Long: "Re-seal every stored token and webhook secret that is not under the current key\n" +
			"(LEADSVC_SECRET_KEY), opening it with a previous one (LEADSVC_SECRET_KEYS_PREVIOUS), in\n" +
			"batches with progress on stderr. Safe while replicas serve; a second run does only what\n" +
			"is left. Exit 1 when some secret no configured key opens (docs/operations.md).\n\n" + envHelp,
		Args: noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			if batch <= 0 {
				return usageError{fmt.Sprintf("keys rotate: --batch must be positive, got %d", batch)}
			}
			return keysRotate(ctx, cfg, logger, batch, c.stdout, c.stderr)
		}),
	}
	rotate.Flags().IntVar(&batch, "batch", defaultRotateBatch, "secrets re-sealed per transaction")
	var sure bool
	forget := &cobra.Command{
		Use:   "forget KEY_ID --yes",
		Short: "drop the stored secrets sealed under a lost key",
		Long: "Drop every stored secret sealed under KEY_ID, a key no one has any more, so that the\n" +
			"service starts again: tokens keep authenticating but cannot be shown; webhooks sign\n" +
			"nothing until their secret is rotated. Refused for a configured key (docs/operations.md).\n\n" + envHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Sprintf("%s: give one key id", commandName(cmd))}
			}
			return nil
		},
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, args []string) error {
			id, err := commands.ParseKeyID(args[0])
			if err != nil {
				return usageError{"keys forget: " + err.Error()}
			}
			if !sure {
				return usageError{"keys forget: secrets sealed under " + args[0] + " are dropped for good; add --yes"}
			}
			return keysForget(ctx, cfg, logger, id, c.stdout)
		}),
	}
	forget.Flags().BoolVar(&sure, "yes", false, "drop them")
	return group("keys", "rotate the secret key", status, rotate, forget)
}

// openKeys opens the command handlers with the configured keys but
// without the start check: keys status and rotate are how an operator
// looks at, and repairs, secrets some key cannot open. They never
// generate a key.
func openKeys(ctx context.Context, cfg Config, logger *slog.Logger) (*writeSide, error) {
	k, err := loadSealKey(cfg)
	if err != nil {
		return nil, err
	}
	if k.new {
		return nil, fmt.Errorf("no secret key: LEADSVC_SECRET_KEY is unset and %s holds none", k.from)
	}
	ws, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if ws.commands, err = newCommands(ws.store, cfg, k.key); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

var errUnopenable = errors.New("some stored secrets cannot be opened with the configured keys")

// keysStatus runs `leadsvc keys status`.
func keysStatus(ctx context.Context, cfg Config, logger *slog.Logger, asJSON bool, stdout io.Writer) error {
	ws, err := openKeys(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	st, err := ws.commands.Keys.KeyStatus(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if err := json.NewEncoder(stdout).Encode(st); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tSTATE\tSECRETS\t")
		for _, u := range st.Keys {
			id, note := u.KeyID, ""
			if id == "" {
				id = "-"
			}
			if u.Unversioned {
				note = "sealed before key ids"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", id, u.State, u.Secrets, note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if st.Unopenable() > 0 {
		return fmt.Errorf("%w: add the key of each unknown key id to LEADSVC_SECRET_KEYS_PREVIOUS", errUnopenable)
	}
	return nil
}

// keysRotate runs `leadsvc keys rotate`.
func keysRotate(ctx context.Context, cfg Config, logger *slog.Logger, batch int, stdout, stderr io.Writer) error {
	ws, err := openKeys(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	current := ws.commands.Keys.SecretKeyID()
	res, err := ws.commands.RotateSecretKey.Handle(ctx, commands.RotateSecretKey{Batch: batch, Progress: func(p commands.RotateProgress) {
		fmt.Fprintf(stderr, "keys rotate: %s: %d/%d re-sealed, %d unopenable\n", p.Column, p.Resealed, p.Total, p.Unopenable)
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keys rotate: %d secrets re-sealed under key id %s, %d left that no configured key opens\n",
		res.Resealed, current, res.Unopenable)
	if res.Unopenable > 0 {
		return fmt.Errorf("%w: leadsvc keys status names their key ids", errUnopenable)
	}
	return nil
}

// keysForget runs `leadsvc keys forget`.
func keysForget(ctx context.Context, cfg Config, logger *slog.Logger, id commands.KeyID, stdout io.Writer) error {
	ws, err := openKeys(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	n, err := ws.commands.ForgetSecretKey.Handle(ctx, commands.ForgetSecretKey{Key: id})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "keys forget: %d secrets sealed under key id %s dropped\n", n, id)
	return err
}
