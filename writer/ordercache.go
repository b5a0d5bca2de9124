package writer

import (
	"container/list"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hoodie-lake/hoodie/filegroup"
)

// orderCache keeps, across commits, the stored state (present, ordering
// value) of every key of the merge-on-read file groups a writer appended
// to, so that the late-event and soft-delete checks of the next commit to
// the same group read nothing: without it each commit re-read the group's
// whole merged slice (base file and every log), a cost that grew with
// each deltacommit until compaction.
//
// An entry is valid for one exact file set of a slice (its signature: base
// file, then each log's name and size). The writer updates an entry with
// what its own commit wrote, after the commit point, and the signature
// with the log files it added; any other change to the slice (another
// writer's log, a compaction, a rollback, a block appended to a log by
// another engine) changes the signature, and the next check reads the
// slice anew. The cache is bounded by bytes (least recently used entries
// go first).
type orderCache struct {
	// mu guards the cache (a commit's handles run in parallel); an
	// entry's keys are used by the one handle of its group at a time.
	mu     sync.Mutex
	budget int64
	used   int64
	lru    *list.List // of *orderEntry, most recent first
	byID   map[filegroup.FileGroupID]*list.Element
}

// orderEntry is the stored state of one file group's keys.
type orderEntry struct {
	id    filegroup.FileGroupID
	sig   string
	keys  map[string]storedValue
	bytes int64
}

// orderDelta is what one append handle's commit changes in its group's
// entry: keys written (present, with their ordering) and keys removed, and
// the signature of the slice before and after the commit.
type orderDelta struct {
	id       filegroup.FileGroupID
	from, to string
	set      map[string]storedValue
	removed  []string
	// written are the log files the delta's signature adds; a commit
	// that moved them (relocateLogs) wrote others, and the entry is
	// dropped.
	written []string
}

// perKeyBytes approximates a map entry's overhead beyond its key.
const perKeyBytes = 64

func newOrderCache(budget int64) *orderCache {
	return &orderCache{budget: budget, lru: list.New(), byID: map[filegroup.FileGroupID]*list.Element{}}
}

// sliceSignature names the exact file set of slice s.
func sliceSignature(s *filegroup.FileSlice) string {
	var b strings.Builder
	if s.Base != nil {
		b.WriteString(s.Base.Name)
	}
	for _, l := range s.Logs {
		appendLogSig(&b, l.Name, l.Size)
	}
	return b.String()
}

func appendLogSig(b *strings.Builder, name string, size int64) {
	b.WriteByte('|')
	b.WriteString(name)
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(size, 10))
}

// get returns the cached keys of group id when the entry is for exactly
// the slice with signature sig.
func (c *orderCache) get(id filegroup.FileGroupID, sig string) (map[string]storedValue, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	e := el.Value.(*orderEntry)
	if e.sig != sig {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.keys, true
}

// put stores the keys of group id's slice with signature sig, if they fit
// the budget.
func (c *orderCache) put(id filegroup.FileGroupID, sig string, keys map[string]storedValue) {
	if c == nil || c.budget <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.remove(el)
	}
	e := &orderEntry{id: id, sig: sig, keys: keys}
	for k, v := range keys {
		e.bytes += entryBytes(k, v)
	}
	if e.bytes > c.budget {
		return
	}
	c.byID[id] = c.lru.PushFront(e)
	c.used += e.bytes
	c.evict()
}

// entryBytes approximates the memory of one key's entry (an ordering
// value holds a string header and two words; a string ordering's bytes are
// not counted beyond perKeyBytes).
func entryBytes(k string, _ storedValue) int64 {
	return int64(len(k)) + perKeyBytes
}

// apply updates the entry of d's group with what a completed commit
// wrote, if the entry is for the slice the commit wrote into; otherwise
// the entry is dropped.
func (c *orderCache) apply(d *orderDelta, written []string) {
	if c == nil || d == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(d.written, written) {
		if el, ok := c.byID[d.id]; ok {
			c.remove(el)
		}
		return
	}
	el, ok := c.byID[d.id]
	if !ok {
		return
	}
	e := el.Value.(*orderEntry)
	if e.sig != d.from || d.to == "" {
		c.remove(el)
		return
	}
	for _, k := range d.removed {
		if v, ok := e.keys[k]; ok {
			e.bytes -= entryBytes(k, v)
			c.used -= entryBytes(k, v)
			delete(e.keys, k)
		}
	}
	for k, v := range d.set {
		if old, ok := e.keys[k]; ok {
			e.bytes -= entryBytes(k, old)
			c.used -= entryBytes(k, old)
		}
		e.keys[k] = v
		e.bytes += entryBytes(k, v)
		c.used += entryBytes(k, v)
	}
	e.sig = d.to
	c.lru.MoveToFront(el)
	if e.bytes > c.budget {
		c.remove(el)
		return
	}
	c.evict()
}

func (c *orderCache) remove(el *list.Element) {
	e := el.Value.(*orderEntry)
	c.lru.Remove(el)
	delete(c.byID, e.id)
	c.used -= e.bytes
}

func (c *orderCache) evict() {
	for c.used > c.budget && c.lru.Len() > 0 {
		c.remove(c.lru.Back())
	}
}

// orderingOf is the stored value a record written by this commit leaves.
func orderingOf(r ref) storedValue {
	v := storedValue{present: true}
	if o, ok := r.ordering(); ok {
		v.ord = o.Clone()
	}
	return v
}
