package eventstore

import (
	"strings"

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
// <prefix>.<account>.<campaign or _>.<aggregate>.<event>.<aggregate id>;
// the event type ("lead.created") supplies the two tokens before the id.
// The id comes last so that a lookup by subject reaches exactly one
// aggregate's messages while filters on the leading tokens only gain a
// trailing wildcard.
func Subject(prefix string, r Record) string {
	return LegacySubject(prefix, r) + "." + subjectToken(domain.AggregateID(r.StreamID))
}

// LegacySubject is the subject events had before it carried the aggregate
// id, <prefix>.<account>.<campaign or _>.<aggregate>.<event>; the stream
// may still hold messages under it.
func LegacySubject(prefix string, r Record) string {
	campaign := "_"
	if r.CampaignID != uuid.Nil {
		campaign = r.CampaignID.String()
	}
	return prefix + "." + r.AccountID.String() + "." + campaign + "." + r.Type
}

// legacyFilter matches every message of an account under the legacy form.
func legacyFilter(prefix string, account uuid.UUID) string {
	return prefix + "." + account.String() + ".*.*.*"
}

// subjectToken keeps an id one subject token: ids are UUIDs, but a
// character NATS gives a meaning to must never widen or split a subject.
func subjectToken(id string) string {
	if id == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, id)
}
