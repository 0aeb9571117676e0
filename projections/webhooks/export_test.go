package webhooks

import "net/http"

// WrapTransport lets a test see and time each attempt's round trip.
func (d *Dispatcher) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	d.client.Transport = wrap(d.client.Transport)
}
