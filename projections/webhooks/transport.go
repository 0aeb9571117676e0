package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/leadsvc/leadsvc/domain"
)

// errForbiddenAddress is a connection refused because the endpoint's
// address is private, loopback or link-local.
var errForbiddenAddress = errors.New("the endpoint resolves to a private, loopback or link-local address, which webhooks may not reach")

// guardAddress is a net.Dialer Control function: it sees the address
// actually being connected to, after name resolution, so a name that
// resolves to a public address when the subscription is made and to a
// private one later (DNS rebinding) is refused all the same.
func guardAddress(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if domain.ForbiddenWebhookAddress(ip) {
		return errForbiddenAddress
	}
	return nil
}

// newClient returns the HTTP client of the dispatcher: no proxy (a proxy
// would hide the address the guard checks), no redirects (a 3xx is a
// failure, like any answer that is not 2xx), connections kept alive per
// endpoint.
func newClient(allowPrivate bool, perEndpoint int) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guardAddress
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   perEndpoint,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
