package projections

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

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

// Bar draws progress on a terminal line (redrawn in place at most every
// 100 ms) or, when w is not a terminal, as a line every few seconds.
type Bar struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	last     time.Time
	phase    string
}

// NewBar returns a bar writing to w.
func NewBar(w io.Writer, terminal bool) *Bar { return &Bar{w: w, terminal: terminal} }

// Update implements a progress callback.
func (b *Bar) Update(p Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	every := 100 * time.Millisecond
	if !b.terminal {
		every = 5 * time.Second
	}
	phaseChanged := p.Phase != b.phase
	if !phaseChanged && time.Since(b.last) < every && p.Done < p.Total {
		return
	}
	b.last, b.phase = time.Now(), p.Phase
	pct := 100.0
	if p.Total > 0 {
		pct = min(100, 100*float64(p.Done)/float64(p.Total))
	}
	const width = 30
	filled := int(pct / 100 * width)
	line := fmt.Sprintf("%-12s [%s%s] %5.1f%% %d/%d events  %.0f events/s  ETA %s",
		p.Phase, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), pct, p.Done, p.Total, p.Rate(), p.ETA())
	if b.terminal {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(b.w, line)
}

// Finish ends the bar's line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.terminal {
		fmt.Fprintln(b.w)
	}
}
