package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/eventstore"
)

const secretKeyFile = "secret.key"

// sealKey is the key that encrypts stored token and webhook secrets, with
// where it comes from.
type sealKey struct {
	key  []byte
	from string // "LEADSVC_SECRET_KEY" or the key file's path
	new  bool   // generated now and not yet kept in its file
}

// loadSealKey returns the configured key, else the one kept in the data
// directory, else a new one that keep writes there once it has been found
// to fit the database. Losing the file makes stored secrets unrevealable
// (tokens still work: lookup is by hash).
func loadSealKey(cfg Config) (sealKey, error) {
	if cfg.SecretKeySet {
		return sealKey{key: cfg.SecretKey, from: "LEADSVC_SECRET_KEY"}, nil
	}
	dir, err := cfg.dataDir()
	if err != nil {
		return sealKey{}, fmt.Errorf("LEADSVC_SECRET_KEY is unset and %w", err)
	}
	path := filepath.Join(dir, secretKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return sealKey{}, fmt.Errorf("%s: not a base64 32-byte key; restore it or set LEADSVC_SECRET_KEY", path)
		}
		return sealKey{key: key, from: path}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return sealKey{}, fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return sealKey{}, fmt.Errorf("generate secret key: %w", err)
	}
	return sealKey{key: key, from: path, new: true}, nil
}

// keep writes a new key to its file. It fails with fs.ErrExist when
// another process kept one first: O_EXCL, so that two processes starting
// at once never each write their own.
func (k sealKey) keep() error {
	if err := os.MkdirAll(filepath.Dir(k.from), 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	f, err := os.OpenFile(k.from, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", k.from, err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k.key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", k.from, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", k.from, err)
	}
	return nil
}

// openCommands returns the command handlers over store once their keys
// are known to open every secret already stored: a process without the
// key that sealed some (run with another data directory, a changed
// LEADSVC_SECRET_KEY, a previous key dropped before keys rotate ran)
// would answer their "Show" with an error and fail their webhooks'
// signatures, so it refuses to start instead, naming the key ids found
// and configured. A generated key is kept only then.
func openCommands(ctx context.Context, cfg Config, logger *slog.Logger, store *eventstore.Store) (*commands.Commands, []byte, error) {
	for {
		k, err := loadSealKey(cfg)
		if err != nil {
			return nil, nil, err
		}
		c, err := newCommands(store, cfg, k.key)
		if err != nil {
			return nil, nil, err
		}
		if err := c.Keys.CheckSecretKey(ctx); err != nil {
			if !errors.Is(err, commands.ErrSecretKeyMismatch) {
				return nil, nil, err
			}
			if k.new {
				return nil, nil, fmt.Errorf("%w; LEADSVC_SECRET_KEY is unset and %s holds no key yet: "+
					"set LEADSVC_SECRET_KEY or LEADSVC_DATA_DIR to the key or the data directory the database was used with", err, k.from)
			}
			return nil, nil, fmt.Errorf("%w; the current key is from %s: "+
				"configure the key the database was used with (LEADSVC_SECRET_KEY, LEADSVC_SECRET_KEYS_PREVIOUS, or LEADSVC_DATA_DIR naming the data directory that holds it)", err, k.from)
		}
		switch {
		case k.from == "LEADSVC_SECRET_KEY":
		case !k.new:
			logger.Warn("LEADSVC_SECRET_KEY is unset; using the key kept in the data directory", "path", k.from)
		default:
			if err := k.keep(); errors.Is(err, fs.ErrExist) {
				continue // another process kept its key first: use that one
			} else if err != nil {
				return nil, nil, err
			}
			logger.Warn("LEADSVC_SECRET_KEY is unset; generated a key and kept it in the data directory — set LEADSVC_SECRET_KEY in production", "path", k.from)
		}
		return c, k.key, nil
	}
}
