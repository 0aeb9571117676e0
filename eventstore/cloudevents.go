package eventstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CloudEvent is the CloudEvents 1.0 structured JSON envelope in which events
// leave the service: on NATS and in webhook bodies. Extension attribute names
// are lowercase alphanumerics, as the specification requires.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Position        int64           `json:"position"`
	StreamVersion   int64           `json:"streamversion"`
	AccountID       string          `json:"accountid"`
	CampaignID      string          `json:"campaignid,omitempty"`
	ActorTokenID    string          `json:"actortokenid,omitempty"`
	RequestID       string          `json:"requestid,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// CloudEventContentType is the media type of a structured CloudEvent.
const CloudEventContentType = "application/cloudevents+json"

// ToCloudEvent wraps a stored event. The event id is the CloudEvents id, so
// every copy of one event (NATS, webhooks) carries the same id.
func ToCloudEvent(r Record) CloudEvent {
	ce := CloudEvent{
		SpecVersion: "1.0", ID: r.EventID.String(), Source: "/leadsvc/" + r.AccountID.String(),
		Type: r.Type, Subject: aggregateID(r.StreamID), Time: r.RecordedAt.UTC(),
		DataContentType: "application/json", Position: r.Position, StreamVersion: r.StreamVersion,
		AccountID: r.AccountID.String(), ActorTokenID: r.Metadata.ActorTokenID, RequestID: r.Metadata.RequestID,
		CorrelationID: r.Metadata.CorrelationID, CausationID: r.Metadata.CausationID, Data: r.Data,
	}
	if r.CampaignID != uuid.Nil {
		ce.CampaignID = r.CampaignID.String()
	}
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

// Subject is the NATS subject of an event:
// <prefix>.<account>.<campaign or _>.<aggregate>.<event>; the event type
// ("lead.created") supplies the last two tokens.
func Subject(prefix string, r Record) string {
	campaign := "_"
	if r.CampaignID != uuid.Nil {
		campaign = r.CampaignID.String()
	}
	return prefix + "." + r.AccountID.String() + "." + campaign + "." + r.Type
}

func aggregateID(streamID string) string {
	if _, id, ok := strings.Cut(streamID, "-"); ok {
		return id
	}
	return streamID
}
