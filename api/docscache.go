package api

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/leadsvc/leadsvc/api/apidoc"
)

// Bounds of one Docs handler's cache. A token's three documents weigh
// 70 to 130 KB together for campaigns of 4 to 12 fields, so the entry
// bound is the one that usually holds; the byte bound guards against very
// large schemas.
const (
	docsCacheEntries = 256
	docsCacheBytes   = 32 << 20
)

// docsKey is a digest of everything a rendering reads (docsKeyOf).
type docsKey [sha256.Size]byte

// docsKeyOf digests the renderer's whole input: the format, the base path
// the page links from, and the scope, that is the public URL, the token's
// name and permissions, its campaign with version, name and schema, and
// its filter with version and conditions, or that it was deleted.
// Digesting the inputs rather than listing versions means nothing the
// renderer reads can be left out of the key, today or when Scope grows.
func docsKeyOf(format docsFormat, base string, s apidoc.Scope) (docsKey, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00", format, base)
	if err := json.NewEncoder(h).Encode(s); err != nil {
		return docsKey{}, err
	}
	var k docsKey
	h.Sum(k[:0])
	return k, nil
}

// docsPage is one rendered document. Its body is shared by every request
// that hits it and is never changed.
type docsPage struct {
	body []byte
	etag string
}

// docsCache keeps rendered documents, evicting the least recently used
// beyond maxEntries or maxBytes, so that many tokens cannot grow it
// without end. It is safe for concurrent use.
type docsCache struct {
	maxEntries, maxBytes int

	mu    sync.Mutex
	order *list.List // of *docsItem, most recently used first
	items map[docsKey]*list.Element
	bytes int

	// flight makes concurrent misses of one key wait for one rendering,
	// e.g. every client polling a token's docs right after a schema change.
	flight singleflight.Group
}

type docsItem struct {
	key  docsKey
	page docsPage
}

func newDocsCache(maxEntries, maxBytes int) *docsCache {
	return &docsCache{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), items: map[docsKey]*list.Element{}}
}

// get returns the page of k, calling render only when it is not cached.
// A failed rendering is not cached.
func (c *docsCache) get(k docsKey, render func() (docsPage, error)) (docsPage, error) {
	if p, ok := c.lookup(k); ok {
		return p, nil
	}
	v, err, _ := c.flight.Do(string(k[:]), func() (any, error) {
		// A flight that ended between the lookup and Do has cached it.
		if p, ok := c.lookup(k); ok {
			return p, nil
		}
		p, err := render()
		if err == nil {
			c.add(k, p)
		}
		return p, err
	})
	if err != nil {
		return docsPage{}, err
	}
	return v.(docsPage), nil
}

func (c *docsCache) lookup(k docsKey) (docsPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return docsPage{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*docsItem).page, true
}

func (c *docsCache) add(k docsKey, p docsPage) {
	// A rendering's buffer grew by doubling, up to twice its body: keep a
	// copy of the body alone, and count what is held, its capacity.
	p.body = bytes.Clone(p.body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok || cap(p.body) > c.maxBytes {
		return // a page over the byte bound would only empty the cache
	}
	c.items[k] = c.order.PushFront(&docsItem{key: k, page: p})
	c.bytes += cap(p.body)
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		it := c.order.Remove(c.order.Back()).(*docsItem)
		delete(c.items, it.key)
		c.bytes -= cap(it.page.body)
	}
}

// size is the number of cached pages and the bytes they hold.
func (c *docsCache) size() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}
