package writer

import (
	"container/list"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/merge"
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
// go first); keys are held as 128-bit hashes (two seeded maphashes: a
// collision among the keys of one group is about 2^-100 likely), so a key
// costs about keyBytes whatever its length.
type orderCache struct {
	// mu guards the cache (a commit's handles run in parallel); an
	// entry's keys are used by the one handle of its group at a time.
	mu     sync.Mutex
	budget int64
	used   int64
	lru    *list.List // of *orderEntry, most recent first
	byID   map[filegroup.FileGroupID]*list.Element
	seeds  [2]maphash.Seed
}

// orderEntry is the stored state of one file group's keys.
type orderEntry struct {
	id    filegroup.FileGroupID
	sig   string
	keys  *groupKeys
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

// storedKeys answers the stored state of a key of one slice.
type storedKeys interface {
	get(k string) (storedValue, bool)
}

// storedMap holds the stored state of some keys (no cache).
type storedMap map[string]storedValue

func (m storedMap) get(k string) (storedValue, bool) {
	v, ok := m[k]
	return v, ok
}

// keyBytes approximates the memory of one key of a groupKeys (a map slot
// of a 16-byte hash and a 16-byte value, with the map's slack).
const keyBytes = 48

type storedHash [2]uint64

// packedOrdering is an ordering value without its string (kept aside).
type packedOrdering struct {
	bits int64
	kind byte
}

// groupKeys is every stored key of one slice, by hash.
type groupKeys struct {
	seeds *[2]maphash.Seed
	m     map[storedHash]packedOrdering
	strs  map[storedHash]string // string ordering values
	bytes int64
}

func (c *orderCache) newGroupKeys() *groupKeys {
	return &groupKeys{seeds: &c.seeds, m: map[storedHash]packedOrdering{}}
}

func (g *groupKeys) hash(k string) storedHash {
	return storedHash{maphash.String(g.seeds[0], k), maphash.String(g.seeds[1], k)}
}

func (g *groupKeys) get(k string) (storedValue, bool) {
	h := g.hash(k)
	p, ok := g.m[h]
	if !ok {
		return storedValue{}, false
	}
	return storedValue{present: true, ord: merge.Unpack(p.kind, p.bits, g.strs[h])}, true
}

// set stores k's state (a copy: k and v may refer to an Arrow buffer).
func (g *groupKeys) set(k string, v storedValue) {
	h := g.hash(k)
	g.del(h)
	kind, bits, s := v.ord.Pack()
	g.m[h] = packedOrdering{bits: bits, kind: kind}
	g.bytes += keyBytes
	if kind == 's' {
		if g.strs == nil {
			g.strs = map[storedHash]string{}
		}
		g.strs[h] = strings.Clone(s)
		g.bytes += int64(len(s)) + keyBytes
	}
}

func (g *groupKeys) del(h storedHash) {
	if _, ok := g.m[h]; !ok {
		return
	}
	delete(g.m, h)
	g.bytes -= keyBytes
	if s, ok := g.strs[h]; ok {
		delete(g.strs, h)
		g.bytes -= int64(len(s)) + keyBytes
	}
}

func newOrderCache(budget int64) *orderCache {
	return &orderCache{budget: budget, lru: list.New(), byID: map[filegroup.FileGroupID]*list.Element{},
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
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
func (c *orderCache) get(id filegroup.FileGroupID, sig string) (*groupKeys, bool) {
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

// holds reports whether the cache has group id's entry for the slice with
// signature sig (so that a commit into it has an entry to update).
func (c *orderCache) holds(id filegroup.FileGroupID, sig string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	return ok && el.Value.(*orderEntry).sig == sig
}

// put stores the keys of group id's slice with signature sig, if they fit
// the budget.
func (c *orderCache) put(id filegroup.FileGroupID, sig string, keys *groupKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.remove(el)
	}
	if keys.bytes > c.budget {
		return
	}
	e := &orderEntry{id: id, sig: sig, keys: keys, bytes: keys.bytes}
	c.byID[id] = c.lru.PushFront(e)
	c.used += e.bytes
	c.evict()
}

// apply updates the entry of d's group with what a completed commit
// wrote (its log files: written), if the entry is for the slice the
// commit wrote into; otherwise the entry is dropped.
func (c *orderCache) apply(d *orderDelta, written []string) {
	if c == nil || d == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[d.id]
	if !ok {
		return
	}
	e := el.Value.(*orderEntry)
	if e.sig != d.from || d.to == "" || !slices.Equal(d.written, written) {
		c.remove(el)
		return
	}
	g := e.keys
	for _, k := range d.removed {
		g.del(g.hash(k))
	}
	for k, v := range d.set {
		g.set(k, v)
	}
	c.used += g.bytes - e.bytes
	e.bytes = g.bytes
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
		v.ord = o
	}
	return v
}
