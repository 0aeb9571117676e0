package domain

import "errors"

// ErrUnknownEventType is returned when an event name is not in the registry.
var ErrUnknownEventType = errors.New("unknown event type")
