package webhooks

import (
	"encoding/json"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections"
)

// body is the event's envelope, as the relay publishes it, and the
// traceparent it carries ("" for none).
func body(e projections.Event) ([]byte, string, error) {
	le := domain.LoggedEvent{EventID: e.EventID, Type: e.Type, StreamID: e.StreamID, StreamVersion: e.StreamVersion,
		Position: e.Position, AccountID: e.AccountID, CampaignID: e.CampaignID, RecordedAt: e.RecordedAt,
		Metadata: e.Metadata, Data: e.Data}
	b, err := json.Marshal(le.CloudEvent())
	return b, e.Metadata.Traceparent, err
}
