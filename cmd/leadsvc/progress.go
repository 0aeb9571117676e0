package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/leadsvc/leadsvc/projections"
)

// progressBar draws progress on a terminal line (redrawn in place at most every
// 100 ms) or, when w is not a terminal, as a line every few seconds.
type progressBar struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	last     time.Time
	phase    string
}

// newProgressBar returns a bar writing to w.
func newProgressBar(w io.Writer, terminal bool) *progressBar {
	return &progressBar{w: w, terminal: terminal}
}

// Update implements a progress callback.
func (b *progressBar) Update(p projections.Progress) {
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
func (b *progressBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.terminal {
		fmt.Fprintln(b.w)
	}
}
