package domain

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Retention is a campaign's policy: its leads are erased once EraseAfter
// has passed since they were created, or since their last change.
type Retention struct {
	EraseAfter  string `json:"erase_after"`  // "730d" or "48h"
	CountedFrom string `json:"counted_from"` // RetentionFromCreated or RetentionFromUpdated
}

// The moments a retention period counts from.
const (
	RetentionFromCreated = "created"
	RetentionFromUpdated = "updated"
)

// MaxRetention bounds a retention period: a longer one is a mistake
// (a unit mixed up), not a policy.
const MaxRetention = 100 * 365 * 24 * time.Hour

// ErrRetentionNotDue refuses a retention erasure of a lead that is not
// past its campaign's period (the lead views lagged a change).
var ErrRetentionNotDue = errors.New("the lead is not past its campaign's retention period")

// CampaignRetentionChanged: the campaign's retention policy was set or,
// with Retention nil, removed. Old readers ignore it; its members are
// omitempty so that a removal stays small.
type CampaignRetentionChanged struct {
	CampaignID uuid.UUID  `json:"campaign_id"`
	Retention  *Retention `json:"retention,omitempty"`
	At         time.Time  `json:"at"`
}

// EventType names, stable in the log.
func (CampaignRetentionChanged) EventType() string { return "campaign.retention_changed" }

// Period is the policy's duration; zero for an invalid policy.
func (r Retention) Period() time.Duration {
	d, _ := parsePeriod(r.EraseAfter)
	return d
}

// Reason is what a retention erasure records as its reason.
func (r Retention) Reason() string {
	return "retention: erase_after " + r.EraseAfter + " counted from " + r.CountedFrom
}

// Validate reports every problem of the policy, under the members'
// names: a period of a positive whole number of days ("d") or hours
// ("h") up to MaxRetention, counted from created or updated.
func (r Retention) Validate() error {
	v := &ValidationError{}
	if d, ok := parsePeriod(r.EraseAfter); !ok {
		v.Add("erase_after", CodeInvalidFormat, "a whole number of days or hours, such as \"730d\" or \"48h\"")
	} else if d <= 0 || d > MaxRetention {
		v.Add("erase_after", CodeInvalidValue, "between 1h and 36500d")
	}
	if r.CountedFrom != RetentionFromCreated && r.CountedFrom != RetentionFromUpdated {
		v.Add("counted_from", CodeInvalidValue, "%q or %q", RetentionFromCreated, RetentionFromUpdated)
	}
	return v.Err()
}

// parsePeriod reads "<n>d" or "<n>h"; ok is false for anything else.
// Larger numbers than any valid period are read as too long, not as
// malformed.
func parsePeriod(s string) (time.Duration, bool) {
	num, unit := s, time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		num, unit = s[:len(s)-1], 24*time.Hour
	case strings.HasSuffix(s, "h"):
		num, unit = s[:len(s)-1], time.Hour
	default:
		return 0, false
	}
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > int64(MaxRetention/unit) {
		return MaxRetention + 1, true
	}
	return time.Duration(n) * unit, true
}

// Since is the moment of l the period counts from.
func (r Retention) Since(l Lead) time.Time {
	if r.CountedFrom == RetentionFromUpdated {
		return l.UpdatedAt
	}
	return l.CreatedAt
}

// Cutoff is the moment before which a lead counted from is past the
// period, at now.
func (r Retention) Cutoff(now time.Time) time.Time { return now.Add(-r.Period()) }

// SetRetention decides a new retention policy, or its removal with nil;
// the policy in force is a no-op.
func (c Campaign) SetRetention(r *Retention, at time.Time) ([]Event, error) {
	if !c.Exists() {
		return nil, ErrCampaignNotFound
	}
	if r != nil {
		if err := r.Validate(); err != nil {
			return nil, err
		}
	}
	if (r == nil && c.Retention == nil) || (r != nil && c.Retention != nil && *r == *c.Retention) {
		return nil, nil
	}
	if r != nil {
		r = ptrTo(*r)
	}
	return []Event{CampaignRetentionChanged{CampaignID: c.ID, Retention: r, At: at}}, nil
}

// EraseExpired decides the erasure of a lead past the retention policy r
// at now, with the policy as the reason and no actor token: the service
// erases on its own. A lead not past it is ErrRetentionNotDue, so that a
// lagging read of the views never erases a lead changed since.
func (l Lead) EraseExpired(r Retention, s Schema, now time.Time) (LeadErased, error) {
	if err := r.Validate(); err != nil {
		return LeadErased{}, err
	}
	if l.Exists() && !l.Erased() && !r.Since(l).Before(r.Cutoff(now)) {
		return LeadErased{}, ErrRetentionNotDue
	}
	return l.Erase(r.Reason(), "", s, now)
}
