package api

// DocsRenders is how many documents d has rendered: its cache misses.
func DocsRenders(d *Docs) int64 { return d.renders.Load() }

// DocsCacheSize is how many rendered documents d keeps, and their bytes.
func DocsCacheSize(d *Docs) (entries, bytes int) { return d.cache.size() }

// SetDocsCacheLimits gives d an empty cache of these bounds.
func SetDocsCacheLimits(d *Docs, entries, bytes int) { d.cache = newDocsCache(entries, bytes) }

// WriteJSON is the encoder of every JSON answer.
var WriteJSON = writeJSON

// LimiterKeys is how many keys a memory limiter holds.
func LimiterKeys(l Limiter) int {
	m := l.(*memoryLimiter)
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.buckets)
}
