package commands

import (
	"context"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// GetLead returns a lead as the scope sees it, folded from its stream:
// the tests' read of what a command wrote.
func GetLead(ctx context.Context, c Commands, accountID, leadID uuid.UUID, s *Scope) (domain.Lead, error) {
	return c.CreateLead.getLead(ctx, accountID, leadID, s)
}
