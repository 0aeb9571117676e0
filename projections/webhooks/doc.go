// Package webhooks delivers lead events to the endpoints subscribed to
// them (docs/webhooks.md). The Projection, a consumer of the event stream
// like any other, decides which subscriptions get each event and records
// the messages durably with its checkpoint; the Dispatcher sends them,
// signed per Standard Webhooks, in each lead's order, retried on a
// schedule that lasts a day, and keeps the delivery log.
package webhooks
