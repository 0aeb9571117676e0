package main

import (
	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/api/console"
	"github.com/leadsvc/leadsvc/eventstore/views/sessions"
)

// mountAPI installs the REST API (api.API.Mount), the public
// documentation (api.Docs, under /docs) and the admin console (under
// /console) on the service's router; it must run before the router's
// other routes are added.
func (m *Main) mountAPI(r chi.Router) {
	audit := newAuditReader(m.Store)
	// One budget per client address for the API, the docs and the
	// console: an address cannot spend it three times.
	addresses := api.NewAddressLimits(m.addrLimits,
		api.ClientAddresses{Trusted: m.Config.TrustedProxies, Header: m.Config.ClientAddressHeader})
	a := api.New(api.Config{
		Commands:           api.CommandsOf(*m.Commands),
		Auth:               m.Commands.Auth,
		Queries:            m.Queries,
		Reader:             m.Reader,
		Audit:              audit,
		Logger:             m.Logger,
		PublicURL:          m.Config.PublicURL,
		SecretKey:          m.secretKey,
		PreviousSecretKeys: m.Config.SecretKeysPrevious,
		RateLimit:          m.Config.RateLimit,
		Limits:             m.tokenLimits,
		AddressLimits:      addresses,
		MaxUploadBytes:     m.Config.MaxUploadBytes,

		UploadQuotaBytes:  m.Config.UploadQuotaBytes,
		UploadsPerProcess: m.Config.UploadsPerProcess,
		UploadsPerAccount: m.Config.UploadsPerAccount,
		Registerer:        m.Registry,
		TracerProvider:    m.TracerProvider,
	})
	a.Mount(r)
	// The public documentation: no token, so outside /v1 and its
	// authentication, behind the same request id, log and metrics.
	r.Mount("/docs", api.NewDocs(api.DocsConfig{Queries: m.Queries, Scopes: m.Commands.Auth, PublicURL: m.Config.PublicURL, Logger: m.Logger,
		Limits: addresses}))
	// The admin console (docs/console.md): pages over the same commands,
	// its preview through the API's own partner list.
	r.Mount(console.Prefix, console.New(console.Config{Commands: m.Commands, Queries: m.Queries, Leads: m.Reader, Audit: audit,
		Sessions: sessions.New(sessions.Config{Pool: m.Pool}), Preview: a.VisibleLeads, PublicURL: m.Config.PublicURL,
		SecretKey: m.secretKey, PreviousSecretKeys: m.Config.SecretKeysPrevious, SignIns: addresses, Logger: m.Logger}))
}
