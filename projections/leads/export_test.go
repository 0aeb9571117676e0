package leads

// ListSQL and PinListPlan expose the statements of a list to the plan
// tests.
var ListSQL = listSQL

const PinListPlan = pinListPlan

// ExpiredLeadsSQL exposes the retention job's statement to the plan
// tests.
var ExpiredLeadsSQL = expiredLeadsSQL
