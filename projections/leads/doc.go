// Package leads is the lead read model: each lead's current state
// (lead_views) and, for every filter, the leads that match it now
// (filter_members), kept from the event stream so that a scoped read is a
// precomputed index range.
package leads

// Name is the projection's durable name: its checkpoint row and its
// JetStream consumer. Never derived from a Go type name.
const Name = "lead_views"
