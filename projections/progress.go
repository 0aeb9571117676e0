package projections

import "time"

// Progress is how far a long job over the log has come.
type Progress struct {
	Phase string // what is being done now
	Done  int64  // events read so far
	Total int64  // events to read (an estimate taken at the start)
	Start time.Time
}

// Rate is events per second so far.
func (p Progress) Rate() float64 {
	s := time.Since(p.Start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.Done) / s
}

// ETA is the time left at the current rate; 0 when unknown.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second)).Round(time.Second)
}
