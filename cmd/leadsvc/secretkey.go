package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

const secretKeyFile = "secret.key"

// secretKey returns the key that encrypts stored token secrets: the one
// configured, or one generated once and kept in the data directory so that
// a first run needs no configuration. Losing that file makes stored token
// secrets unrevealable (the tokens still work: lookup is by hash).
func secretKey(cfg Config, logger *slog.Logger) ([]byte, error) {
	if cfg.SecretKeySet {
		return cfg.SecretKey, nil
	}
	path := filepath.Join(cfg.DataDir, secretKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s: not a base64 32-byte key; restore it or set LEADSVC_SECRET_KEY", path)
		}
		logger.Warn("LEADSVC_SECRET_KEY is unset; using the key kept in the data directory", "path", path)
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// O_EXCL: two processes starting at once must not each write their own key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return secretKey(cfg, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	logger.Warn("LEADSVC_SECRET_KEY is unset; generated a key and kept it in the data directory — set LEADSVC_SECRET_KEY in production", "path", path)
	return key, nil
}
