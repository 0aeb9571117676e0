package testenv

import (
	"encoding/json"
	"fmt"
)

// PlanNodes reads the output of EXPLAIN (FORMAT JSON) into its plan nodes,
// depth first from the top: the plan tests assert on their "Node Type",
// "Index Name" and conditions.
func PlanNodes(plan string) ([]map[string]any, error) {
	var doc []struct {
		Plan map[string]any `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) != 1 {
		return nil, fmt.Errorf("unreadable plan: %v", err)
	}
	var nodes []map[string]any
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		nodes = append(nodes, n)
		children, _ := n["Plans"].([]any)
		for _, c := range children {
			if m, ok := c.(map[string]any); ok {
				walk(m)
			}
		}
	}
	walk(doc[0].Plan)
	return nodes, nil
}
