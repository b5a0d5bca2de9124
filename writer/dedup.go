package writer

import "github.com/hoodie-lake/hoodie/internal/merge"

// ref points at one buffered record.
type ref struct {
	b   *batch
	row int
}

func (r ref) key() string       { return r.b.keys[r.row] }
func (r ref) partition() string { return r.b.parts[r.row] }

// isDelete reports whether the record deletes its key: buffered with
// Delete, or flagged with _hoodie_is_deleted.
func (r ref) isDelete() bool {
	if r.b.op == OpDelete {
		return true
	}
	return r.b.deleted != nil && r.b.deleted.IsValid(r.row) && r.b.deleted.Value(r.row)
}

// explicitDelete reports a delete buffered with Delete, which wins whatever
// the ordering (Hudi's EmptyHoodieRecordPayload).
func (r ref) explicitDelete() bool { return r.b.op == OpDelete }

func (r ref) ordering() (merge.Ordering, bool) {
	if r.b.ordering == nil {
		return merge.Ordering{}, false
	}
	return r.b.ordering(r.row), true
}

// newer reports whether candidate c (buffered after r) replaces r within
// one commit: the larger ordering value wins, ties to the later record; a
// record without an ordering value (a plain delete) wins by position.
func newer(c, r ref) bool {
	co, cok := c.ordering()
	ro, rok := r.ordering()
	if !cok || !rok {
		return true
	}
	return merge.Compare(co, ro) >= 0
}

// scope identifies a record for dedup: the record key alone with a global
// index, else partition and key. The strings are the batch's own (no
// per-record concatenation).
type scope struct{ part, key string }

func scopeOf(global bool, partition, key string) scope {
	if global {
		return scope{key: key}
	}
	return scope{part: partition, key: key}
}

// dedup keeps one record per key across the buffered batches, in buffer
// order, and returns the winners in first-seen order with the number of
// records dropped.
func dedup(batches []*batch, global bool) (winners []ref, dropped int) {
	n := 0
	for _, b := range batches {
		n += len(b.keys)
	}
	pos := make(map[scope]int, n)
	winners = make([]ref, 0, n)
	for _, b := range batches {
		for i := range b.keys {
			r := ref{b: b, row: i}
			// A global delete may come without partition values: its
			// partition is taken from the index later.
			k := scopeOf(global, b.parts[i], b.keys[i])
			if at, ok := pos[k]; ok {
				dropped++
				if newer(r, winners[at]) {
					winners[at] = r
				}
				continue
			}
			pos[k] = len(winners)
			winners = append(winners, r)
		}
	}
	return winners, dropped
}
