package api_test

import (
	"testing"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
)

// TestPageFieldMessageSaysWhatToDo reads the console's sentences for the
// field errors admins meet most: each names the admin's labels and says
// what to do; an error the table does not know keeps the domain's words
// as a sentence.
func TestPageFieldMessageSaysWhatToDo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fe   domain.FieldError
		s    api.FieldSubject
		want string
	}{
		{domain.FieldError{Field: "option.value", Code: domain.CodeInvalidValue, Message: `option.value: option "partner-abc" is defined twice`},
			api.FieldSubject{Label: "Partner ABC", List: "Source", Value: "partner-abc"}, "“Partner ABC” is already an option of Source."},
		{domain.FieldError{Field: "selects[0].options[2].value", Code: domain.CodeInvalidValue},
			api.FieldSubject{Value: "web"}, "“web” is already an option of this list."},
		{domain.FieldError{Field: "fields[3].key", Code: domain.CodeInvalidValue},
			api.FieldSubject{Value: "email"}, "Another field already has the key “email”. Change this one's label or type another key."},
		{domain.FieldError{Field: "selects[1].key", Code: domain.CodeInvalidValue},
			api.FieldSubject{Value: "source"}, "Another select list already has the key “source”. Change this one's label or type another key."},
		{domain.FieldError{Field: "fields[0].key", Code: domain.CodeInvalidValue},
			api.FieldSubject{Value: "status"}, "The key “status” is taken by what every lead has anyway. Type another key, such as “lead_status”."},
		{domain.FieldError{Field: "fields[0].key", Code: domain.CodeInvalidFormat},
			api.FieldSubject{Value: "Bad Key"}, "A key is lowercase letters a–z, digits and _, and starts with a letter, such as lead_source."},
		{domain.FieldError{Field: "statuses[1].slug", Code: domain.CodeInvalidValue},
			api.FieldSubject{Value: "won"}, "Another status already has the key “won”. Change this one's label or key."},
		{domain.FieldError{Field: "url", Code: domain.CodeInvalidFormat, Message: `url: "x" is not an absolute URL`},
			api.FieldSubject{}, "Type the whole address, starting with https://, such as https://example.com/hooks/leads."},
		{domain.FieldError{Field: "match", Code: domain.CodeRequired}, api.FieldSubject{},
			"Add a condition, or choose “Every lead of the campaign” to let every lead through."},
		{domain.FieldError{Field: "match", Code: domain.CodeInvalidValue}, api.FieldSubject{Value: "all"},
			"“Every lead of the campaign” takes no condition: remove the conditions, or do not choose it."},
		{domain.FieldError{Field: "position", Code: domain.CodeInvalidValue, Message: "position: a position from 1 to 3"},
			api.FieldSubject{}, "A position from 1 to 3."},
	} {
		if got := api.PageFieldMessage(c.fe, c.s); got != c.want {
			t.Errorf("PageFieldMessage(%s %s, %+v) = %q, want %q", c.fe.Field, c.fe.Code, c.s, got, c.want)
		}
	}
}
