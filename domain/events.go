package domain

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Event is a fact decided by an aggregate. EventType returns its stable name
// ("lead.created"); the name, never the Go type, is what the log stores.
type Event interface {
	EventType() string
}

// Fold applies events, in order, to an aggregate's state: from its zero
// value it rebuilds the aggregate; from a loaded state it previews a
// decision.
func Fold[A interface{ Evolve(Event) A }](state A, events []Event) A {
	for _, e := range events {
		state = state.Evolve(e)
	}
	return state
}

// Upcaster turns the stored JSON of an older shape of an event into the
// current shape. It receives the bytes as stored and returns bytes that
// decode into the registered type.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

type registration struct {
	decode    func(json.RawMessage) (Event, error)
	upcasters []Upcaster
}

// Registry maps event names to Go types so the log can be decoded long after
// it was written. It is an explicit value, never a package-level global.
type Registry struct {
	byName map[string]registration
}

// Register adds the event type named by the zero value of E. Registering a
// name twice panics: it is a programming error caught by the registry test.
func Register[E Event](r *Registry, upcasters ...Upcaster) {
	var zero E
	name := zero.EventType()
	if _, dup := r.byName[name]; dup {
		panic(fmt.Sprintf("domain: event %q registered twice", name))
	}
	r.byName[name] = registration{
		decode: func(data json.RawMessage) (Event, error) {
			var e E
			if err := json.Unmarshal(data, &e); err != nil {
				return nil, err
			}
			return e, nil
		},
		upcasters: upcasters,
	}
}

// Encode returns the stored name and JSON of e.
func (r *Registry) Encode(e Event) (string, json.RawMessage, error) {
	name := e.EventType()
	if _, ok := r.byName[name]; !ok {
		return "", nil, fmt.Errorf("encode %s: %w", name, ErrUnknownEventType)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return name, data, nil
}

// Decode turns a stored event back into its Go value, running the upcasters
// registered for the name in order. An unknown name is ErrUnknownEventType.
func (r *Registry) Decode(name string, data json.RawMessage) (Event, error) {
	reg, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("decode %s: %w", name, ErrUnknownEventType)
	}
	var err error
	for _, up := range reg.upcasters {
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("upcast %s: %w", name, err)
		}
	}
	e, err := reg.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return e, nil
}

// Upcasts reports whether the stored JSON of events of the name goes
// through upcasters before it decodes: then only decoding reads it right.
func (r *Registry) Upcasts(name string) bool { return len(r.byName[name].upcasters) > 0 }

// Names lists the registered event names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewEmptyRegistry returns a registry with no events, for tests of the
// machinery itself; NewRegistry returns the one the service uses.
func NewEmptyRegistry() *Registry {
	return &Registry{byName: map[string]registration{}}
}
