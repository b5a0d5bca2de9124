package timeline

import (
	"context"
	"sync"

	"github.com/hoodie-lake/hoodie/storage"
)

// MetadataCache keeps the decoded commit metadata of instants read before,
// so that a long-lived process (a streaming writer) reads each instant
// file once rather than at every commit. An instant's file never changes
// once written: a completed file is created once (create-if-absent) and an
// instant time is never reused, so an entry is valid for as long as its
// instant is on the timeline; Prune drops the others (archived, rolled
// back). The zero value is ready to use; it is safe for concurrent use.
//
// Callers must not modify the metadata it returns: it is shared.
type MetadataCache struct {
	mu      sync.Mutex
	entries map[Instant]*CommitMetadata
}

// CommitMetadata returns inst's commit metadata, reading it (as
// ReadCommitMetadata) only when it is not cached. Errors are not cached.
func (c *MetadataCache) CommitMetadata(ctx context.Context, st storage.Storage, inst Instant) (*CommitMetadata, error) {
	c.mu.Lock()
	md, ok := c.entries[inst]
	c.mu.Unlock()
	if ok {
		return md, nil
	}
	md, err := ReadCommitMetadata(ctx, st, inst)
	if err != nil {
		return nil, err
	}
	c.Put(inst, md)
	return md, nil
}

// Put records inst's metadata (a process's own commit, which it need not
// read back). The cache keeps md: the caller must not modify it after.
func (c *MetadataCache) Put(inst Instant, md *CommitMetadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[Instant]*CommitMetadata{}
	}
	c.entries[inst] = md
}

// Prune drops the entries of instants that are not on tl in the same
// state, so the cache stays as large as the active timeline.
func (c *MetadataCache) Prune(tl *Timeline) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for inst := range c.entries {
		if cur, ok := tl.Find(inst.Timestamp); !ok || cur != inst {
			delete(c.entries, inst)
		}
	}
}

// Len is the number of cached entries.
func (c *MetadataCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
