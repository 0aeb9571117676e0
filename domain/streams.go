package domain

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Aggregate names: the first part of stream ids and of event names.
const (
	AggregateAccount  = "account"
	AggregateCampaign = "campaign"
	AggregateFilter   = "filter"
	AggregateToken    = "token"
	AggregateLead     = "lead"
)

// AccountStream is the stream id of an account.
func AccountStream(id uuid.UUID) string { return AggregateAccount + "-" + id.String() }

// CampaignStream is the stream id of a campaign.
func CampaignStream(id uuid.UUID) string { return AggregateCampaign + "-" + id.String() }

// FilterStream is the stream id of a filter.
func FilterStream(id uuid.UUID) string { return AggregateFilter + "-" + id.String() }

// TokenStream is the stream id of a token.
func TokenStream(id uuid.UUID) string { return AggregateToken + "-" + id.String() }

// LeadStream is the stream id of a lead.
func LeadStream(id uuid.UUID) string { return AggregateLead + "-" + id.String() }

// ParseStreamID splits a stream id into its aggregate name and id. Only
// the canonical form the stream functions above produce is accepted, so
// one aggregate never has two stream ids.
func ParseStreamID(s string) (string, uuid.UUID, error) {
	agg, rest, ok := strings.Cut(s, "-")
	if !ok || !knownAggregates[agg] {
		return "", uuid.Nil, fmt.Errorf("stream id %q: no known aggregate prefix", s)
	}
	id, err := uuid.Parse(rest)
	if err != nil || id.String() != rest {
		return "", uuid.Nil, fmt.Errorf("stream id %q: not a lowercase canonical uuid", s)
	}
	return agg, id, nil
}

var knownAggregates = map[string]bool{AggregateAccount: true, AggregateCampaign: true, AggregateFilter: true,
	AggregateToken: true, AggregateLead: true, AggregateWebhook: true}
