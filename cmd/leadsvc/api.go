package main

import (
	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
)

// mountAPI installs the REST API (api.API.Mount) on the service's router;
// it must run before the router's other routes are added.
func (m *Main) mountAPI(r chi.Router) {
	api.New(api.Config{
		Commands:       m.Commands,
		Reader:         m.Reader,
		Audit:          newAuditReader(m.Store),
		Logger:         m.Logger,
		PublicURL:      m.Config.PublicURL,
		SecretKey:      m.secretKey,
		RateLimit:      m.Config.RateLimit,
		MaxUploadBytes: m.Config.MaxUploadBytes,
		Registerer:     m.Registry,
	}).Mount(r)
}
