package domain

import (
	"strings"
	"unicode/utf8"
)

// Limits on what a campaign, filter or lead may hold; docs/api.md lists
// them ("Limits"). Lengths count characters unless they say bytes. Over a
// limit is a validation error naming the member.
const (
	MaxNameLength      = 200   // names of accounts, campaigns, filters and tokens
	MaxLabelLength     = 200   // labels of fields, selects, options and statuses
	MaxOptionValue     = 200   // an option's value
	MaxFields          = 200   // fields of a campaign
	MaxSelects         = 50    // selects of a campaign
	MaxOptions         = 500   // options of a select
	MaxStatuses        = 50    // statuses of a campaign
	MaxConditions      = 50    // conditions of a filter, those of its any groups included
	MaxConditionValues = 500   // values of one in, not_in or multiselect value
	MaxTextBytes       = 1000  // a text, email or phone field's value
	MaxTextareaBytes   = 65536 // a textarea field's value
	MaxEventTypes      = 50    // event types a webhook names
)

// Codes of text and size problems.
const (
	CodeNUL             = "nul_character"    // text holds U+0000, which no stored string may
	CodeInvalidUTF8     = "invalid_utf8"     // text is not valid UTF-8 (or holds a lone surrogate escape)
	CodeDuplicateMember = "duplicate_member" // a JSON object names a member twice
	CodeTooLong         = "too_long"
	CodeTooMany         = "too_many"
)

// TextProblem is the one rule for text a client sends: valid UTF-8 with
// no NUL character (PostgreSQL stores neither). It returns the code and
// reason of the problem, or "" when the text is fine.
func TextProblem(s string) (code, reason string) {
	if !utf8.ValidString(s) {
		return CodeInvalidUTF8, "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return CodeNUL, `holds a NUL character (\u0000)`
	}
	return "", ""
}

// validText adds the text problem of s to v; it reports whether there
// was none.
func validText(v *ValidationError, path, s string) bool {
	code, reason := TextProblem(s)
	if code != "" {
		v.Add(path, code, "the text %s", reason)
	}
	return code == ""
}

// validLength adds a too_long problem when s has more than most
// characters.
func validLength(v *ValidationError, path, s string, most int) bool {
	if n := utf8.RuneCountInString(s); n > most {
		v.Add(path, CodeTooLong, "at most %d characters (this has %d)", most, n)
		return false
	}
	return true
}

// validCount adds a too_many problem when a list of n items is longer
// than most; callers then skip its items, so a huge list gets one error.
func validCount(v *ValidationError, path string, n, most int, what string) bool {
	if n > most {
		v.Add(path, CodeTooMany, "at most %d %s (this has %d)", most, what, n)
		return false
	}
	return true
}

// validLabel checks a required label.
func validLabel(v *ValidationError, path, label string) {
	switch {
	case label == "":
		v.Add(path, CodeRequired, "a label is required")
	case validText(v, path, label):
		validLength(v, path, label, MaxLabelLength)
	}
}
