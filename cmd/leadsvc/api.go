package main

import (
	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
)

// mountAPI installs the REST API (api.API.Mount) and the public
// documentation (api.Docs, under /docs) on the service's router; it must
// run before the router's other routes are added.
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
	// The public documentation: no token, so outside /v1 and its
	// authentication, behind the same request id, log and metrics.
	r.Mount("/docs", api.NewDocs(api.DocsConfig{Commands: m.Commands, PublicURL: m.Config.PublicURL, Logger: m.Logger}))
}
