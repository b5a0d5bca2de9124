package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
)

// flush buffers the pending rows (upserts and hard deletes, in one commit
// so the writer orders them against each other) and commits.
func (r *cdcRun) flush(ctx context.Context) error {
	if len(r.rows) > 0 {
		var ups, dels []cdcRow
		for _, row := range r.rows {
			if row.del {
				dels = append(dels, row)
			} else {
				ups = append(ups, row)
			}
		}
		r.rows = r.rows[:0]
		if err := r.buffer(ctx, ups, false); err != nil {
			return err
		}
		if err := r.buffer(ctx, dels, true); err != nil {
			return err
		}
	}
	return r.commit(ctx)
}

// parseRows turns rows into a reader of Arrow batches, as ingest parses
// JSON Lines (cdc.Table.Reader: the types are inferred, the table's and
// the envelopes' where known, then the rows parsed with the columns in a
// stable order).
func (r *cdcRun) parseRows(rows []cdcRow) (ingest.Reader, error) {
	var buf bytes.Buffer
	for _, row := range rows {
		buf.Write(row.js)
		buf.WriteByte('\n')
	}
	return r.state.Reader(buf.Bytes(), r.w.Schema(), ingest.Options{SampleRows: len(rows)})
}

// buffer turns rows into Arrow batches, checks keys, partitions and
// ordering values, and buffers the good rows (rejecting the others).
func (r *cdcRun) buffer(ctx context.Context, rows []cdcRow, del bool) error {
	if len(rows) == 0 {
		return nil
	}
	rd, err := r.parseRows(rows)
	if err != nil {
		return err
	}
	defer rd.Close()
	at := func(line int64, field, reason string) ingest.BadRow {
		row := rows[line-1]
		return ingest.BadRow{Source: row.src, Line: row.line, Field: field, Reason: reason, Raw: row.raw}
	}
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var bad []ingest.BadRow
		for _, bd := range b.Bad {
			bad = append(bad, at(bd.Line, bd.Field, bd.Reason))
		}
		if b.Rec != nil {
			keep, more, err := r.check(b, del, at)
			bad = append(bad, more...)
			if err == nil && len(keep) > 0 {
				err = r.bufferGood(ctx, b.Rec, keep, del)
			}
			b.Rec.Release()
			if err != nil {
				return err
			}
		}
		if err := r.reject(bad); err != nil {
			return err
		}
	}
}

// bufferGood buffers the rows keep of rec as upserts or deletes.
func (r *cdcRun) bufferGood(ctx context.Context, rec arrow.RecordBatch, keep []int64, del bool) error {
	good, err := arrowutil.Take(ctx, rec, keep)
	if err != nil {
		return err
	}
	if del {
		err = r.w.Delete(good)
	} else {
		err = r.w.Upsert(good)
	}
	good.Release()
	if err != nil {
		return err
	}
	n := int64(len(keep))
	r.res.Events += n
	if del {
		r.res.DeleteEvents += n
		r.ev.buffered(n, n)
	} else {
		r.res.Upserts += n
		r.ev.buffered(n, 0)
	}
	return nil
}

const partitionUnknown = "delete: the partition field is missing or null in before, so the row's partition is unknown (PostgreSQL: REPLICA IDENTITY FULL)"

// check returns the rows of b to keep and the bad ones: a string that is
// not UTF-8, a missing key, a null ordering value (upserts), or a delete
// whose partition is unknown.
func (r *cdcRun) check(b *ingest.Batch, del bool, at func(line int64, field, reason string) ingest.BadRow) ([]int64, []ingest.BadRow, error) {
	cfg := r.cfg
	var bad []ingest.BadRow
	isBad := map[int]bool{}
	mark := func(i int, field, reason string) {
		if !isBad[i] {
			isBad[i] = true
			bad = append(bad, at(b.Lines[i], field, reason))
		}
	}
	if !r.keyColumns(b, del, mark) {
		return nil, bad, nil
	}
	gen, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
		Kind: r.kind, HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning,
		Timestamp: keygen.TimestampOptions(cfg.Timestamp)}, b.Rec.Schema())
	if err != nil {
		return nil, nil, err
	}
	// Strings are UTF-8 or refused (cdc.Parse refuses such events; this
	// is the backstop before the writer).
	for _, ue := range arrowutil.InvalidUTF8Rows(b.Rec) {
		mark(ue.Row, ue.Field, ue.Reason())
	}
	_, _, rowErrs := gen.KeysLenient(b.Rec)
	for _, re := range rowErrs {
		mark(re.Row, re.Field, re.Reason)
	}
	nullable := func(field, what string) {
		col := arrowutil.Column(b.Rec, field)
		for i := range b.Lines {
			if col == nil || col.IsNull(i) {
				mark(i, field, what)
			}
		}
	}
	if del {
		for _, p := range cfg.PartitionFields {
			nullable(p, partitionUnknown)
		}
	} else if cfg.PrecombineField != "" {
		nullable(cfg.PrecombineField, "precombine field is missing or null")
	}
	var keep []int64
	for i := range b.Lines {
		if !isBad[i] {
			keep = append(keep, int64(i))
		}
	}
	return keep, bad, nil
}

// keyColumns gives upserts without a partition field null values (the
// default partition, as ingest does), and reports whether b has every key
// and partition column; when not, every row is marked bad.
func (r *cdcRun) keyColumns(b *ingest.Batch, del bool, mark func(i int, field, reason string)) bool {
	cfg := r.cfg
	if miss := missingFields(b.Rec.Schema(), cfg.PartitionFields); !del && len(miss) > 0 &&
		!slices.ContainsFunc(miss, func(n string) bool { return strings.Contains(n, ".") }) {
		b.Rec = withNullColumns(b.Rec, miss, r.w.Schema())
	}
	for _, f := range append(append([]string(nil), cfg.RecordKeyFields...), cfg.PartitionFields...) {
		if arrowutil.Column(b.Rec, f) != nil {
			continue
		}
		reason := "record key field is missing"
		if del && slices.Contains(cfg.PartitionFields, f) {
			reason = partitionUnknown
		} else if slices.Contains(cfg.PartitionFields, f) {
			reason = "partition field is missing"
		}
		for i := range b.Lines {
			mark(i, f, reason)
		}
		return false
	}
	return true
}
