package eventstore

import (
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// ToCloudEvent wraps a stored event in the envelope it leaves the service
// in (domain.CloudEvent).
func ToCloudEvent(r Record) domain.CloudEvent {
	return domain.LoggedEvent{EventID: r.EventID, Type: r.Type, StreamID: r.StreamID, StreamVersion: r.StreamVersion,
		Position: r.Position, AccountID: r.AccountID, CampaignID: r.CampaignID, RecordedAt: r.RecordedAt,
		Metadata: r.Metadata, Data: r.Data}.CloudEvent()
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
