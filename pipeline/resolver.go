package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// missingFields returns the top-level fields of names that sch lacks.
func missingFields(sch *arrow.Schema, names []string) []string {
	var out []string
	for _, n := range names {
		if len(sch.FieldIndices(strings.SplitN(n, ".", 2)[0])) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// withNullColumns appends all-null columns named names to rec (typed as
// the table's columns, else string). It releases rec.
func withNullColumns(rec arrow.RecordBatch, names []string, tableSchema *arrow.Schema) arrow.RecordBatch {
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := append([]arrow.Array(nil), rec.Columns()...)
	var added []arrow.Array
	for _, n := range names {
		var t arrow.DataType = arrow.BinaryTypes.String
		if tableSchema != nil {
			if idx := tableSchema.FieldIndices(n); len(idx) > 0 {
				t = tableSchema.Field(idx[0]).Type
			}
		}
		col := array.MakeArrayOfNull(memory.DefaultAllocator, t, int(rec.NumRows()))
		added = append(added, col)
		fields = append(fields, arrow.Field{Name: n, Type: t, Nullable: true})
		cols = append(cols, col)
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range added {
		c.Release()
	}
	rec.Release()
	return out
}

// partitionResolver finds the partitions of keys to delete that come
// without their partition fields, in the record-key index.
type partitionResolver struct {
	cfg    *table.Config
	inputs map[string]bool     // the input files whose keys were looked up
	paths  map[string][]string // record key -> partition paths
}

// newPartitionResolver reads the record keys of the input files that lack
// partition fields and looks them up in the table's record-key index
// (brought level with the timeline first). nil when no file needs it.
func (r *ingestRun) newPartitionResolver(ctx context.Context, sources []source) (*partitionResolver, error) {
	keySet := map[string]bool{}
	inputs := map[string]bool{}
	for _, src := range sources {
		if src.path == "-" {
			continue // checked when read: stdin cannot be read twice
		}
		needed, err := r.deleteKeys(src, keySet)
		if err != nil {
			return nil, err
		}
		if needed {
			inputs[src.path] = true
		}
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	locs, err := lookupKeys(ctx, r.tbl, r.wopts, keys)
	if err != nil {
		return nil, err
	}
	p := &partitionResolver{cfg: r.cfg, inputs: inputs, paths: map[string][]string{}}
	for i, k := range keys {
		for _, l := range locs[i] {
			if !slices.Contains(p.paths[k], l.PartitionPath) {
				p.paths[k] = append(p.paths[k], l.PartitionPath)
			}
		}
	}
	return p, nil
}

// deleteKeys adds the record keys of an input file without partition
// fields to keys; needed reports such a file.
func (r *ingestRun) deleteKeys(src source, keys map[string]bool) (needed bool, err error) {
	rd, closeFn, err := r.openSource(src, r.readerOptions(), false)
	if errors.Is(err, ingest.ErrEmpty) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closeFn()
	if len(missingFields(rd.Schema(), r.cfg.PartitionFields)) == 0 {
		return false, nil
	}
	gen, err := keygen.New(keygen.Config{RecordKeyFields: r.cfg.RecordKeyFields, Kind: keygen.NonPartitioned}, rd.Schema())
	if err != nil {
		return false, fmt.Errorf("%s: --op delete: %w", src.path, err)
	}
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if b.Rec == nil {
			continue
		}
		ks, _, bad := gen.KeysLenient(b.Rec)
		isBad := map[int]bool{}
		for _, e := range bad {
			isBad[e.Row] = true
		}
		for i, k := range ks {
			if !isBad[i] && k != "" {
				keys[k] = true
			}
		}
		b.Rec.Release()
	}
}

// lookupKeys looks keys up in the table's record-key index, brought level
// with the timeline first (the writer does at Open; the writer holds the
// index while it is open, so it is closed before the index is read).
func lookupKeys(ctx context.Context, tbl *table.Table, wopts writer.Options, keys []string) ([][]index.Location, error) {
	w, err := writer.Open(ctx, tbl, wopts)
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	dir := wopts.IndexDir
	if dir == "" {
		if dir, err = writer.DefaultIndexDir(wopts.IndexLocation); err != nil {
			return nil, err
		}
	}
	idx, err := index.Open(index.Options{Dir: dir, Global: wopts.GlobalIndex, TTL: wopts.IndexTTL})
	if err != nil {
		return nil, err
	}
	defer idx.Close()
	tl, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return nil, err
	}
	locs, err := idx.LookupRecordKeys(ctx, keys, index.LookupOptions{Trust: tl.Visible("")})
	if err != nil {
		return nil, fmt.Errorf("looking up the keys to delete: %w", err)
	}
	return locs, nil
}

// values returns the partition field values a partition path was built
// from (nil: null, which the key generator writes as the default
// partition).
func (p *partitionResolver) values(path string) ([]*string, error) {
	if family, _ := table.KeyGeneratorFamily(p.cfg.KeyGeneratorClass()); family == table.KeyGenTimestampBased {
		return nil, fmt.Errorf("partition path %q: a timestamp-based key generator's path cannot be turned back into the event time; give the deletes with their %s field",
			path, strings.Join(p.cfg.PartitionFields, ","))
	}
	segs := strings.Split(path, "/")
	if len(segs) != len(p.cfg.PartitionFields) {
		return nil, fmt.Errorf("partition path %q does not match the partition fields %s", path, strings.Join(p.cfg.PartitionFields, ","))
	}
	out := make([]*string, len(segs))
	for i, seg := range segs {
		if p.cfg.HiveStylePartitioning {
			v, ok := strings.CutPrefix(seg, p.cfg.PartitionFields[i]+"=")
			if !ok {
				return nil, fmt.Errorf("partition path %q does not match the partition fields %s", path, strings.Join(p.cfg.PartitionFields, ","))
			}
			seg = v
		}
		if seg == keygen.DefaultPartition {
			continue
		}
		if p.cfg.URLEncodePartitioning {
			seg = keygen.UnescapePathName(seg)
		}
		out[i] = &seg
	}
	return out, nil
}

// apply turns rows of record keys into deletes with their partition
// fields: one row per partition the index holds the key in; keys not in
// the index are counted and dropped. It releases rec; the result is nil
// when no key was found.
func (p *partitionResolver) apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, int64, error) {
	defer rec.Release()
	gen, err := keygen.New(keygen.Config{RecordKeyFields: p.cfg.RecordKeyFields, Kind: keygen.NonPartitioned}, rec.Schema())
	if err != nil {
		return nil, 0, err
	}
	keys, _, err := gen.Keys(rec)
	if err != nil {
		return nil, 0, err
	}
	var rows []int64
	vals := make([]*array.StringBuilder, len(p.cfg.PartitionFields))
	for i := range vals {
		vals[i] = array.NewStringBuilder(memory.DefaultAllocator)
		defer vals[i].Release()
	}
	notFound := int64(0)
	for i, k := range keys {
		paths := p.paths[k]
		if len(paths) == 0 {
			notFound++
			continue
		}
		for _, path := range paths {
			vs, err := p.values(path)
			if err != nil {
				return nil, 0, fmt.Errorf("key %q: %w", k, err)
			}
			rows = append(rows, int64(i))
			for j, v := range vs {
				if v == nil {
					vals[j].AppendNull()
				} else {
					vals[j].Append(*v)
				}
			}
		}
	}
	if len(rows) == 0 {
		return nil, notFound, nil
	}
	var keyCols []string
	for _, f := range p.cfg.RecordKeyFields {
		if top := strings.SplitN(f, ".", 2)[0]; !slices.Contains(keyCols, top) {
			keyCols = append(keyCols, top)
		}
	}
	proj := arrowutil.Project(rec, keyCols)
	defer proj.Release()
	taken, err := arrowutil.Take(ctx, proj, rows)
	if err != nil {
		return nil, 0, err
	}
	defer taken.Release()
	fields := append([]arrow.Field(nil), taken.Schema().Fields()...)
	cols := append([]arrow.Array(nil), taken.Columns()...)
	for j, f := range p.cfg.PartitionFields {
		col := vals[j].NewArray()
		defer col.Release()
		fields = append(fields, arrow.Field{Name: f, Type: arrow.BinaryTypes.String, Nullable: true})
		cols = append(cols, col)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(rows))), notFound, nil
}
