package webhooks

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// envelope is the CloudEvents 1.0 structured JSON in which events leave
// the service: eventstore.CloudEvent, member for member, so that a webhook
// body is byte for byte the message on NATS (TestBodiesAreTheNATSEnvelope
// holds the two together; projections do not import the write side).
type envelope struct {
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

// loggedEvent is an events row, as much of it as a body needs.
type loggedEvent struct {
	position      int64
	eventID       uuid.UUID
	eventType     string
	streamID      string
	streamVersion int64
	accountID     uuid.UUID
	campaignID    *uuid.UUID
	data          []byte
	metadata      []byte
	recordedAt    time.Time
}

// body is the event's envelope, as the relay publishes it.
func (e loggedEvent) body() ([]byte, error) {
	var meta struct {
		ActorTokenID  string `json:"actor_token_id"`
		RequestID     string `json:"request_id"`
		CorrelationID string `json:"correlation_id"`
		CausationID   string `json:"causation_id"`
	}
	if err := json.Unmarshal(e.metadata, &meta); err != nil {
		return nil, err
	}
	subject := e.streamID
	if _, id, ok := strings.Cut(e.streamID, "-"); ok {
		subject = id
	}
	env := envelope{SpecVersion: "1.0", ID: e.eventID.String(), Source: "/leadsvc/" + e.accountID.String(), Type: e.eventType,
		Subject: subject, Time: e.recordedAt.UTC(), DataContentType: "application/json", Position: e.position,
		StreamVersion: e.streamVersion, AccountID: e.accountID.String(), ActorTokenID: meta.ActorTokenID,
		RequestID: meta.RequestID, CorrelationID: meta.CorrelationID, CausationID: meta.CausationID, Data: e.data}
	if e.campaignID != nil {
		env.CampaignID = e.campaignID.String()
	}
	return json.Marshal(env)
}
