package webhooks

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

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

// body is the event's envelope, as the relay publishes it, and the
// traceparent it carries ("" for none).
func (e loggedEvent) body() ([]byte, string, error) {
	le := domain.LoggedEvent{EventID: e.eventID, Type: e.eventType, StreamID: e.streamID, StreamVersion: e.streamVersion,
		Position: e.position, AccountID: e.accountID, RecordedAt: e.recordedAt, Data: e.data}
	if err := json.Unmarshal(e.metadata, &le.Metadata); err != nil {
		return nil, "", err
	}
	if e.campaignID != nil {
		le.CampaignID = *e.campaignID
	}
	b, err := json.Marshal(le.CloudEvent())
	return b, le.Metadata.Traceparent, err
}
