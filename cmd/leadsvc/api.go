package main

import (
	"crypto/rand"
	"log/slog"

	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
)

// mountAPI installs the REST API (api.API.Mount) on the service's router;
// it must run before the router's other routes are added.
func (m *Main) mountAPI(r chi.Router) {
	// Run has already made or read the key; reading it again is quiet.
	key, err := secretKey(m.Config, slog.New(slog.DiscardHandler))
	if err != nil {
		// Only list cursors depend on it: with a random key they stop
		// working across restarts, nothing else does.
		m.Logger.Error("secret key for list cursors; cursors will not survive a restart", "err", err)
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	api.New(api.Config{
		Commands:       m.Commands,
		Reader:         m.Reader,
		Logger:         m.Logger,
		PublicURL:      m.Config.PublicURL,
		SecretKey:      key,
		RateLimit:      m.Config.RateLimit,
		MaxUploadBytes: m.Config.MaxUploadBytes,
		Registerer:     m.Registry,
	}).Mount(r)
}
