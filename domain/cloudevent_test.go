package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

func TestCloudEventCarriesTheTraceparentExtensionOnlyWhenTraced(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	e := domain.LoggedEvent{EventID: uuid.New(), Type: "lead.created", StreamID: "lead-" + uuid.NewString(), StreamVersion: 1,
		Position: 7, AccountID: uuid.New(), RecordedAt: time.Unix(0, 0), Data: json.RawMessage(`{}`)}
	untraced, err := json.Marshal(e.CloudEvent())
	if err != nil || strings.Contains(string(untraced), "traceparent") {
		t.Fatalf("untraced envelope %s, %v; want no traceparent member", untraced, err)
	}
	e.Metadata.Traceparent = tp
	traced, err := json.Marshal(e.CloudEvent())
	if err != nil {
		t.Fatal(err)
	}
	got, err := domain.DecodeCloudEvent(traced)
	if err != nil || got.Traceparent != tp || !strings.Contains(string(traced), `"traceparent":"`+tp+`"`) {
		t.Fatalf("traced envelope %s, %v; want the traceparent extension %s", traced, err, tp)
	}
}
