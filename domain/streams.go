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

// ParseStreamID splits a stream id into its aggregate name and id.
func ParseStreamID(s string) (string, uuid.UUID, error) {
	agg, rest, ok := strings.Cut(s, "-")
	if !ok {
		return "", uuid.Nil, fmt.Errorf("stream id %q: no aggregate prefix", s)
	}
	id, err := uuid.Parse(rest)
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("stream id %q: %w", s, err)
	}
	return agg, id, nil
}
