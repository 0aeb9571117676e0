package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers match them with errors.Is; the API maps them to
// problem responses.
var (
	ErrUnknownEventType = errors.New("unknown event type")
	ErrAccountNotFound  = errors.New("account not found")
	ErrCampaignNotFound = errors.New("campaign not found")
	ErrFilterNotFound   = errors.New("filter not found")
	ErrTokenNotFound    = errors.New("token not found")
	ErrLeadNotFound     = errors.New("lead not found")
	ErrFileNotFound     = errors.New("file not found")
	ErrFilterDeleted    = errors.New("filter deleted")
	ErrTokenRevoked     = errors.New("token revoked")
	ErrAlreadyExists    = errors.New("already exists")
)

// Field error codes; stable, part of the API's problem bodies.
const (
	CodeUnknownField  = "unknown_field"
	CodeWrongType     = "wrong_type"
	CodeUnknownOption = "unknown_option"
	CodeUnknownStatus = "unknown_status"
	CodeRequired      = "required"
	CodeInvalidFormat = "invalid_format"
	CodeInvalidValue  = "invalid_value"
)

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError holds every problem found in an input, so a client can fix
// them all at once.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Message
	}
	return "invalid input: " + strings.Join(msgs, "; ")
}

// Add records one problem.
func (e *ValidationError) Add(field, code, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Field: field, Code: code, Message: field + ": " + fmt.Sprintf(format, args...)})
}

// absorb adds the field errors of err, a *ValidationError or nil, to e.
// Any other error is returned as it came.
func (e *ValidationError) absorb(err error) error {
	var v *ValidationError
	if err == nil || !errors.As(err, &v) {
		return err
	}
	e.Errors = append(e.Errors, v.Errors...)
	return nil
}

// Err returns e when it holds problems and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Errors) == 0 {
		return nil
	}
	return e
}

// Invalid returns a validation error with a single problem.
func Invalid(field, code, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(field, code, format, args...)
	return v
}

// quote shortens user input for messages: errors name the input, they do not
// echo long personal data back.
func quote(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return fmt.Sprintf("%q", s)
}
