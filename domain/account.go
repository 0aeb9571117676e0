package domain

import (
	"time"

	"github.com/google/uuid"
)

// Account is a tenant. Nothing ever crosses accounts.
type Account struct {
	ID        uuid.UUID
	Name      string
	Version   int64
	CreatedAt time.Time
}

// Evolve applies one event.
func (a Account) Evolve(e Event) Account {
	if e, ok := e.(AccountCreated); ok {
		a.ID, a.Name, a.CreatedAt = e.AccountID, e.Name, e.At
	}
	a.Version++
	return a
}

// CreateAccount decides a new account.
func CreateAccount(id uuid.UUID, name string, at time.Time) ([]Event, error) {
	if err := validNameErr("name", name); err != nil {
		return nil, err
	}
	return []Event{AccountCreated{AccountID: id, Name: name, At: at}}, nil
}
