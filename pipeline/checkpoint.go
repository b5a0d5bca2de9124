package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/writer"
)

// CheckpointPrefix marks the checkpoints of Ingest and CDC among the values
// of a commit's checkpoint key (writer.CheckpointKey); JSON follows it.
// Other checkpoints (e.g. Hudi's streamer's) are not theirs: a run on such
// a table starts from scratch.
const CheckpointPrefix = "hoodie-ingest:"

// checkpoint is the source position of Ingest and CDC, recorded with each
// commit (in the commit metadata, under the streamer's checkpoint key).
//
// An input file is known by its identity, not its path alone: with the
// last line committed, the checkpoint keeps the byte offset just past it
// (in the decompressed input), the SHA-256 of the bytes up to there, and
// the file's size and modification time. A re-run verifies the prefix
// before skipping it: an unchanged file read to its end is skipped, a
// file that only grew resumes after the verified prefix, and a file whose
// prefix changed is read again from its first line. Standard input named
// by SourceID (a replayable stream) is known by its line count only.
//
// Inputs keeps what earlier versions recorded (the last line per input)
// so that they can still read the checkpoint; an entry there without one
// in Files (written by an earlier version) cannot be verified, so the file
// is read again from its first line.
type checkpoint struct {
	// Files comes first so that, with one input, the line count of Inputs
	// is the last number of the checkpoint (as earlier versions wrote it).
	Files  map[string]fileIdentity `json:"files,omitempty"`
	Inputs map[string]int64        `json:"inputs"`
}

// fileIdentity is what a checkpoint records of an input file.
type fileIdentity struct {
	Line int64 `json:"line"`
	// Offset is the byte offset just past Line in the decompressed input,
	// -1 for Parquet files (whose identity is their whole content).
	Offset int64 `json:"offset"`
	// SHA256 is the hex SHA-256 of the first Offset bytes (of the whole
	// file for Parquet).
	SHA256 string `json:"sha256"`
	// Size and MTime (Unix nanoseconds) are the file's when committed.
	Size  int64 `json:"size"`
	MTime int64 `json:"mtimeUnixNano"`
	// Complete: the input was read to its end (Parquet).
	Complete bool `json:"complete,omitempty"`
}

func newCheckpoint() *checkpoint {
	return &checkpoint{Inputs: map[string]int64{}, Files: map[string]fileIdentity{}}
}

func (c *checkpoint) String() string {
	b, _ := json.Marshal(c)
	return CheckpointPrefix + string(b)
}

func (c *checkpoint) clone() *checkpoint {
	out := newCheckpoint()
	for k, v := range c.Inputs {
		out.Inputs[k] = v
	}
	for k, v := range c.Files {
		out.Files[k] = v
	}
	return out
}

// loadCheckpoint reads the table's last ingest checkpoint; other
// checkpoints (e.g. Hudi's streamer's) start from scratch.
func loadCheckpoint(ctx context.Context, w *writer.Writer) (*checkpoint, error) {
	cp := newCheckpoint()
	s, _, err := w.LastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(s, CheckpointPrefix); ok {
		if err := json.Unmarshal([]byte(rest), cp); err != nil {
			return nil, fmt.Errorf("ingest checkpoint %q: %w", s, err)
		}
		if cp.Inputs == nil {
			cp.Inputs = map[string]int64{}
		}
		if cp.Files == nil {
			cp.Files = map[string]fileIdentity{}
		}
	}
	return cp, nil
}

// checkpointID names an input in checkpoints: its absolute path, or the
// SourceID for stdin ("" = not checkpointed).
func checkpointID(src source, sourceID string) string {
	if src.path == "-" {
		return sourceID
	}
	if abs, err := filepath.Abs(src.path); err == nil {
		return abs
	}
	return src.path
}

// resumeState is the checkpoint of a run: what the last commit recorded,
// and the inputs read since.
type resumeState struct {
	cp       *checkpoint
	noResume bool // read every input from its first line (the checkpoint keeps the other inputs)
	ev       *EventListener
	// insertOp names the operation when reading an input again would
	// duplicate its rows (insert, bulk_insert); "" for upserts and deletes
	// by key, which are idempotent.
	insertOp string
	pending  []*inputTracker // inputs read since the last commit
}

// inputTracker follows one input through a run: the lines earlier runs
// committed (skipped), how far what is buffered reaches, and the prefix
// hash to record at the next commit.
type inputTracker struct {
	id     string
	path   string // "" for standard input
	done   int64  // lines committed by earlier runs: skipped
	line   int64  // the position covered by what is buffered
	offset int64
	moved  bool // line/offset set since the last commit
	ended  bool // read to its end
	whole  bool // Parquet: identity of the whole file
	size   int64
	mtime  int64
	hasher *prefixHasher
	final  *fileIdentity // the identity once read to its end (the hasher closed)
}

// start decides where reading src begins. It returns the tracker (nil
// when the input is not checkpointed: stdin without SourceID) and whether
// to skip the input (unchanged since it was read to its end). A known
// input that changed is read again from its first line, with a warning
// (for inserts, which would duplicate its rows, it is an error instead).
func (rs *resumeState) start(src source, id string) (*inputTracker, bool, error) {
	if id == "" {
		return nil, false, nil
	}
	tr := &inputTracker{id: id}
	if src.path == "-" {
		if !rs.noResume {
			tr.done = rs.cp.Inputs[id]
		}
		return tr, false, nil
	}
	fi, err := os.Stat(src.path)
	if err != nil {
		return nil, false, err
	}
	tr.path, tr.whole, tr.size, tr.mtime = src.path, src.format == ingest.Parquet, fi.Size(), fi.ModTime().UnixNano()
	if tr.hasher, err = newPrefixHasher(src.path, tr.whole); err != nil {
		return nil, false, err
	}
	if rs.noResume {
		return tr, false, nil
	}
	e, known := rs.cp.Files[id]
	if !known {
		if n := rs.cp.Inputs[id]; n > 0 {
			return rs.reread(tr, fmt.Sprintf("was checkpointed by an earlier hoodie without its identity (up to line %d), so whether it changed cannot be verified", n))
		}
		return tr, false, nil
	}
	if tr.whole {
		return rs.startWhole(tr, e)
	}
	return rs.startPrefix(tr, e)
}

// reread starts tr over from its first line, with a warning saying why;
// for inserts it is an error instead.
func (rs *resumeState) reread(tr *inputTracker, why string) (*inputTracker, bool, error) {
	if rs.insertOp != "" {
		tr.hasher.close()
		return nil, false, fmt.Errorf("%s %s: --op %s does not deduplicate against the table, so reading it again would duplicate the rows already committed (use --op upsert to apply the changes)",
			tr.path, why, rs.insertOp)
	}
	rs.ev.note(Warning, "%s %s: reading it again from the first line (rows are upserted by key, so the rows already committed are not duplicated)", tr.path, why)
	if err := tr.hasher.reset(); err != nil {
		return nil, false, err
	}
	return tr, false, nil
}

// skipUnchanged skips tr: read to its end by an earlier run, unchanged.
func (rs *resumeState) skipUnchanged(tr *inputTracker) (*inputTracker, bool, error) {
	tr.hasher.close()
	rs.ev.note(Notice, "%s is unchanged since it was ingested: skipped (--no-resume reads it again)", tr.path)
	return nil, true, nil
}

// changed describes the file then and now.
func changed(e fileIdentity, tr *inputTracker) (was, now string) {
	was = fmt.Sprintf("%d bytes, modified %s", e.Size, time.Unix(0, e.MTime).UTC().Format(time.RFC3339))
	now = fmt.Sprintf("%d bytes, modified %s", tr.size, time.Unix(0, tr.mtime).UTC().Format(time.RFC3339))
	return was, now
}

// startWhole checks a Parquet file against its checkpointed identity, the
// hash of the whole file.
func (rs *resumeState) startWhole(tr *inputTracker, e fileIdentity) (*inputTracker, bool, error) {
	if err := tr.hasher.advanceToEOF(); err != nil {
		return nil, false, err
	}
	switch {
	case tr.hasher.sum() != e.SHA256:
		was, now := changed(e, tr)
		return rs.reread(tr, fmt.Sprintf("changed since it was ingested (was %s, now %s, and its content differs)", was, now))
	case e.Complete:
		return rs.skipUnchanged(tr)
	}
	tr.done, tr.line, tr.offset = e.Line, e.Line, -1
	rs.ev.note(Notice, "%s is unchanged since it was partly ingested: resuming after row %d", tr.path, e.Line)
	return tr, false, nil
}

// startPrefix checks a text input against its checkpointed identity: the
// hash of the prefix read then; it resumes after the prefix if it still
// holds.
func (rs *resumeState) startPrefix(tr *inputTracker, e fileIdentity) (*inputTracker, bool, error) {
	if e.Offset < 0 {
		return rs.reread(tr, "was ingested as a Parquet file, and is now read as text")
	}
	was, now := changed(e, tr)
	short, err := tr.hasher.advance(e.Offset)
	if err != nil {
		return nil, false, err
	}
	if short {
		return rs.reread(tr, fmt.Sprintf("changed since it was ingested (was %s, now %s: shorter than the %d bytes read then)", was, now, e.Offset))
	}
	if tr.hasher.sum() != e.SHA256 {
		return rs.reread(tr, fmt.Sprintf("changed since it was ingested (was %s, now %s: its first %d bytes, through line %d, differ from what was read then)", was, now, e.Offset, e.Line))
	}
	more, err := tr.hasher.more()
	if err != nil {
		return nil, false, err
	}
	if !more {
		return rs.skipUnchanged(tr)
	}
	if e.Offset > 0 && tr.hasher.last != '\n' {
		return rs.reread(tr, fmt.Sprintf("changed since it was ingested (its last line %d, which had no line end, was extended)", e.Line))
	}
	tr.done, tr.line, tr.offset = e.Line, e.Line, e.Offset
	if tr.size == e.Size && tr.mtime == e.MTime {
		rs.ev.note(Notice, "%s is unchanged since it was partly ingested: resuming after line %d", tr.path, e.Line)
	} else {
		rs.ev.note(Notice, "%s grew since it was ingested: resuming after line %d", tr.path, e.Line)
	}
	return tr, false, nil
}

// advance records that everything up to line (ending at byte offset) is
// buffered or rejected.
func (rs *resumeState) advance(tr *inputTracker, line, offset int64) {
	if tr == nil || line < tr.line {
		return
	}
	tr.line, tr.offset = line, offset
	if !tr.moved {
		tr.moved = true
		rs.pending = append(rs.pending, tr)
	}
}

// finish records that tr was read to its end at pos; its identity is
// taken now (so that one file at a time is open to hash).
func (rs *resumeState) finish(tr *inputTracker, pos ingest.Position) error {
	if tr == nil {
		return nil
	}
	rs.advance(tr, max(pos.Line, tr.line), pos.Offset)
	tr.ended = true
	if tr.hasher == nil {
		return nil
	}
	id, err := rs.identity(tr)
	tr.hasher.close()
	if err != nil {
		return err
	}
	tr.final = &id
	return nil
}

// drop forgets an input that is not read (empty, or failed to open).
func (rs *resumeState) drop(tr *inputTracker) {
	if tr != nil && tr.hasher != nil {
		tr.hasher.close()
	}
}

// identity hashes tr's prefix up to its position.
func (rs *resumeState) identity(tr *inputTracker) (fileIdentity, error) {
	id := fileIdentity{Line: tr.line, Offset: tr.offset, Size: tr.size, MTime: tr.mtime}
	if tr.whole {
		if err := tr.hasher.advanceToEOF(); err != nil {
			return id, err
		}
		id.Offset, id.Complete = -1, tr.ended
	} else {
		short, err := tr.hasher.advance(tr.offset)
		if err != nil {
			return id, err
		}
		if short {
			return id, fmt.Errorf("%s changed while it was read (it is shorter than the %d bytes read)", tr.path, tr.offset)
		}
	}
	id.SHA256 = tr.hasher.sum()
	return id, nil
}

// next is the checkpoint to commit: the last one with the positions and
// identities of the inputs read since.
func (rs *resumeState) next() (*checkpoint, error) {
	out := rs.cp.clone()
	for _, tr := range rs.pending {
		out.Inputs[tr.id] = tr.line
		switch {
		case tr.final != nil:
			out.Files[tr.id] = *tr.final
		case tr.hasher != nil:
			id, err := rs.identity(tr)
			if err != nil {
				return nil, err
			}
			out.Files[tr.id] = id
		}
	}
	return out, nil
}

// committed makes cp the last checkpoint.
func (rs *resumeState) committed(cp *checkpoint) {
	rs.cp = cp
	for _, tr := range rs.pending {
		tr.moved = false
	}
	rs.pending = rs.pending[:0]
}

// close releases the hashers of inputs not read to their end.
func (rs *resumeState) close() {
	for _, tr := range rs.pending {
		rs.drop(tr)
	}
}

// prefixHasher hashes a prefix of an input file (of its decompressed
// content; of the raw file for Parquet) with its own handle, reading
// forward only.
type prefixHasher struct {
	path  string
	whole bool
	f     *os.File
	dec   io.Closer
	br    *bufio.Reader
	h     hash.Hash
	n     int64
	last  byte // the last byte hashed
}

func newPrefixHasher(path string, whole bool) (*prefixHasher, error) {
	p := &prefixHasher{path: path, whole: whole}
	if err := p.reset(); err != nil {
		return nil, err
	}
	return p, nil
}

// reset starts over from the first byte.
func (p *prefixHasher) reset() error {
	p.close()
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	var r io.Reader = f
	if !p.whole {
		dec, _, err := ingest.Decompress(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", p.path, err)
		}
		p.dec, r = dec, dec
	}
	p.f, p.br, p.h, p.n, p.last = f, bufio.NewReaderSize(r, 256<<10), sha256.New(), 0, 0
	return nil
}

// advance hashes up to byte offset off; short reports that the input ends
// before it.
func (p *prefixHasher) advance(off int64) (short bool, err error) {
	if off < p.n {
		return false, fmt.Errorf("%s: checkpoint offset %d is behind %d", p.path, off, p.n)
	}
	for p.n < off {
		b, err := p.br.Peek(int(min(off-p.n, int64(p.br.Size()))))
		if len(b) > 0 {
			p.h.Write(b)
			p.last = b[len(b)-1]
			p.n += int64(len(b))
			_, _ = p.br.Discard(len(b))
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return false, fmt.Errorf("%s: %w", p.path, err)
		}
	}
	return false, nil
}

// advanceToEOF hashes the rest of the input.
func (p *prefixHasher) advanceToEOF() error {
	for {
		short, err := p.advance(p.n + int64(p.br.Size()))
		if err != nil || short {
			return err
		}
	}
}

// more reports whether the input goes on past what was hashed.
func (p *prefixHasher) more() (bool, error) {
	_, err := p.br.Peek(1)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", p.path, err)
	}
	return true, nil
}

func (p *prefixHasher) sum() string { return hex.EncodeToString(p.h.Sum(nil)) }

func (p *prefixHasher) close() {
	if p.dec != nil {
		p.dec.Close()
		p.dec = nil
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
}

// skipDone drops the rows (and bad rows) of lines an earlier run
// committed (up to tr.done).
func skipDone(ctx context.Context, tr *inputTracker, b *ingest.Batch) (*ingest.Batch, []ingest.BadRow, error) {
	if tr == nil || tr.done == 0 {
		return b, b.Bad, nil
	}
	var bad []ingest.BadRow
	for _, r := range b.Bad {
		if r.Line > tr.done {
			bad = append(bad, r)
		}
	}
	if b.Rec == nil {
		return b, bad, nil
	}
	var keep, lines, ends []int64
	for i, l := range b.Lines {
		if l > tr.done {
			keep = append(keep, int64(i))
			lines = append(lines, l)
			ends = append(ends, b.Ends[i])
		}
	}
	if len(keep) == len(b.Lines) {
		return b, bad, nil
	}
	rec, err := arrowutil.Take(ctx, b.Rec, keep)
	b.Rec.Release()
	if err != nil {
		return nil, nil, err
	}
	if len(keep) == 0 {
		rec.Release()
		rec = nil
	}
	b.Rec, b.Lines, b.Ends = rec, lines, ends
	return b, bad, nil
}
