package leads

// ListSQL and PinListPlan expose the statements of a list to the plan
// tests.
var ListSQL = listSQL

const PinListPlan = pinListPlan
