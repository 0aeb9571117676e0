package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the wait before each retry of a message after the
// first, immediate attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
// Eight attempts in all over about 27.5 hours; then the message is given
// up (failed) and the next message of its lead may go.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// retryWait is the wait after the given failed attempt (1-based): the
// schedule's step stretched or shrunk at random by up to jitter (a
// fraction), so that endpoints that failed together are not retried
// together; a longer Retry-After from the endpoint wins, up to maxAfter.
// It reports false when the schedule is spent.
func retryWait(schedule []time.Duration, attempt int, jitter, random float64, retryAfter, maxAfter time.Duration) (time.Duration, bool) {
	if attempt < 1 || attempt > len(schedule) {
		return 0, false
	}
	wait := time.Duration(float64(schedule[attempt-1]) * (1 + jitter*(2*random-1)))
	if retryAfter > wait {
		wait = min(retryAfter, maxAfter)
	}
	return wait, true
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, int64(365*24*3600))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
