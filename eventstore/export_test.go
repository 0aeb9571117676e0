package eventstore

// ReadAllSQL and PinReadAllPlan expose the statements of a page of the
// log to the plan test.
const (
	ReadAllSQL     = readAllSQL
	PinReadAllPlan = pinReadAllPlan
)
