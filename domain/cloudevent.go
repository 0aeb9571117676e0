package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CloudEvent is the CloudEvents 1.0 structured JSON envelope in which events
// leave the service: on NATS and in webhook bodies, one shape for both so
// that a webhook body is byte for byte the message on NATS. Extension
// attribute names are lowercase alphanumerics, as the specification
// requires.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Position        int64     `json:"position"`
	StreamVersion   int64     `json:"streamversion"`
	AccountID       string    `json:"accountid"`
	CampaignID      string    `json:"campaignid,omitempty"`
	ActorTokenID    string    `json:"actortokenid,omitempty"`
	RequestID       string    `json:"requestid,omitempty"`
	CorrelationID   string    `json:"correlationid,omitempty"`
	CausationID     string    `json:"causationid,omitempty"`
	// Traceparent is the CloudEvents distributed tracing extension: the
	// W3C trace context of the request that recorded the event, when
	// tracing was on.
	Traceparent string          `json:"traceparent,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// CloudEventContentType is the media type of a structured CloudEvent.
const CloudEventContentType = "application/cloudevents+json"

// The JetStream stream the relay publishes to and the projections read,
// and the first token of its subjects, where the configuration names no
// other (LEADSVC_NATS_STREAM, LEADSVC_NATS_SUBJECT_PREFIX).
const (
	DefaultStream        = "LEADSVC_EVENTS"
	DefaultSubjectPrefix = "leadsvc"
)

// NewCloudEvent is the envelope of an event of an account: source
// "/leadsvc/<account>", JSON data. campaign is uuid.Nil for none. Events of
// the log add their position, version and metadata (LoggedEvent).
func NewCloudEvent(id uuid.UUID, eventType string, account, campaign uuid.UUID, subject string, at time.Time, data json.RawMessage) CloudEvent {
	ce := CloudEvent{SpecVersion: "1.0", ID: id.String(), Source: "/leadsvc/" + account.String(), Type: eventType,
		Subject: subject, Time: at.UTC(), DataContentType: "application/json", AccountID: account.String(), Data: data}
	if campaign != uuid.Nil {
		ce.CampaignID = campaign.String()
	}
	return ce
}

// EventMetadata travels with every logged event; none of it is personal
// data.
type EventMetadata struct {
	ActorTokenID  string `json:"actor_token_id,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Traceparent   string `json:"traceparent,omitempty"` // W3C trace context of the append, when traced
}

// LoggedEvent is a stored event as its envelope shows it.
type LoggedEvent struct {
	EventID       uuid.UUID
	Type          string
	StreamID      string
	StreamVersion int64
	Position      int64
	AccountID     uuid.UUID
	CampaignID    uuid.UUID // uuid.Nil for none
	RecordedAt    time.Time
	Metadata      EventMetadata
	Data          json.RawMessage
}

// CloudEvent wraps the event. Its event id is the CloudEvents id, so every
// copy of one event (NATS, webhooks) carries the same id; the subject is
// the aggregate's id.
func (e LoggedEvent) CloudEvent() CloudEvent {
	ce := NewCloudEvent(e.EventID, e.Type, e.AccountID, e.CampaignID, AggregateID(e.StreamID), e.RecordedAt, e.Data)
	ce.Position, ce.StreamVersion = e.Position, e.StreamVersion
	ce.ActorTokenID, ce.RequestID = e.Metadata.ActorTokenID, e.Metadata.RequestID
	ce.CorrelationID, ce.CausationID = e.Metadata.CorrelationID, e.Metadata.CausationID
	ce.Traceparent = e.Metadata.Traceparent
	return ce
}

// DecodeCloudEvent parses a structured CloudEvent body.
func DecodeCloudEvent(body []byte) (CloudEvent, error) {
	var ce CloudEvent
	if err := json.Unmarshal(body, &ce); err != nil {
		return ce, fmt.Errorf("cloudevent: %w", err)
	}
	if ce.SpecVersion != "1.0" || ce.ID == "" || ce.Type == "" {
		return ce, fmt.Errorf("cloudevent: missing specversion, id or type")
	}
	return ce, nil
}

// AggregateID is the id part of a stream id ("lead-<id>" → "<id>").
func AggregateID(streamID string) string {
	if _, id, ok := strings.Cut(streamID, "-"); ok {
		return id
	}
	return streamID
}
