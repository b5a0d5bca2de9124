package index

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// A run is an immutable file of entry records sorted by key hash: the
// index's storage for entries. Runs are written whole (from the memory
// front, or by merging runs), never modified, and memory-mapped for
// lookups; newer runs shadow older ones.
//
// File layout: a 64-byte header, then count records of recSize bytes in
// the host's byte order (the header's byte-order mark rejects a file from
// another host):
//
//	magic [8]byte "HOODIRUN", bom uint32 0x01020304, recSize uint32,
//	count uint64, crc32c(records) uint32, zero padding
const (
	runMagic     = "HOODIRUN"
	runHeader    = 64
	runBOM       = 0x01020304
	runExt       = ".run"
	runsDirName  = "runs"
	tombstoneGID = 1<<32 - 1
	// bucketFill is the mean number of records per bucket of a run's
	// directory: the directory takes 4/bucketFill bytes per record.
	bucketFill = 16
)

// rec is one entry: the 128-bit hash of its encoded key, its dictionary
// ids (gid tombstoneGID: deleted), and its expiry in Unix seconds (0:
// never).
type rec struct {
	h1, h2 uint64
	gid    uint32
	iid    uint32
	exp    uint32
	_      uint32
}

const recSize = int(unsafe.Sizeof(rec{}))

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func (r *rec) less(o *rec) bool {
	return r.h1 < o.h1 || (r.h1 == o.h1 && r.h2 < o.h2)
}

func cmpRec(a, b rec) int {
	switch {
	case a.h1 < b.h1:
		return -1
	case a.h1 > b.h1:
		return 1
	case a.h2 < b.h2:
		return -1
	case a.h2 > b.h2:
		return 1
	}
	return 0
}

// live reports whether r is an entry (not a tombstone) that has not
// expired at now (Unix seconds).
func (r *rec) live(now uint32) bool {
	return r.gid != tombstoneGID && (r.exp == 0 || r.exp > now)
}

// hkey is a key hash.
type hkey struct{ h1, h2 uint64 }

// hashKey hashes an encoded entry key. 128 bits of SHA-256 make a
// collision between two of a table's keys (which would report one key's
// location for the other) practically impossible: about 1e-25 at 10^7
// keys.
func hashKey(enc []byte) hkey {
	s := sha256.Sum256(enc)
	return hkey{binary.BigEndian.Uint64(s[0:8]), binary.BigEndian.Uint64(s[8:16])}
}

// run is an open run.
type run struct {
	id   uint64
	recs []rec
	// dir[b] is the index of the first record whose hash's top bits
	// (h1 >> shift) are >= b; len(dir) is 1<<bits + 1.
	dir   []uint32
	shift uint
	size  int64  // file size (0 in memory)
	data  []byte // the mapping, nil in memory
	path  string // "" in memory
}

// newRun builds the directory of recs.
func newRun(id uint64, recs []rec) *run {
	nb := 0
	if len(recs) > bucketFill {
		nb = bits.Len(uint(len(recs) / bucketFill))
	}
	r := &run{id: id, recs: recs, shift: 64 - uint(nb)}
	r.dir = make([]uint32, 1<<nb+1)
	b := 0
	for i := range recs {
		hb := 0
		if nb > 0 {
			hb = int(recs[i].h1 >> r.shift)
		}
		for b <= hb {
			r.dir[b] = uint32(i)
			b++
		}
	}
	for ; b < len(r.dir); b++ {
		r.dir[b] = uint32(len(recs))
	}
	return r
}

// find returns the record of k, or nil.
func (r *run) find(k hkey) *rec {
	if len(r.recs) == 0 {
		return nil
	}
	b := 0
	if r.shift < 64 {
		b = int(k.h1 >> r.shift)
	}
	lo, hi := int(r.dir[b]), int(r.dir[b+1])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := &r.recs[m]
		if e.h1 < k.h1 || (e.h1 == k.h1 && e.h2 < k.h2) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(r.recs) && r.recs[lo].h1 == k.h1 && r.recs[lo].h2 == k.h2 {
		return &r.recs[lo]
	}
	return nil
}

// close unmaps the run's file.
func (r *run) close() error {
	if r.data == nil {
		return nil
	}
	d := r.data
	r.data, r.recs = nil, nil
	return munmap(d)
}

// remove closes the run and deletes its file.
func (r *run) remove() error {
	err := r.close()
	if r.path != "" {
		if rerr := os.Remove(r.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func runPath(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x%s", id, runExt))
}

// runWriter writes the records of a new run in key order.
type runWriter struct {
	id    uint64
	mem   []rec // in memory
	f     *os.File
	w     *bufio.Writer
	tmp   string
	final string
	n     uint64
	crc   uint32
	buf   []rec
}

// newRunWriter starts run id in dir ("" keeps it in memory).
func newRunWriter(dir string, id uint64) (*runWriter, error) {
	rw := &runWriter{id: id}
	if dir == "" {
		return rw, nil
	}
	rw.final = runPath(dir, id)
	rw.tmp = rw.final + ".tmp"
	f, err := os.Create(rw.tmp)
	if err != nil {
		return nil, err
	}
	rw.f = f
	rw.w = bufio.NewWriterSize(f, 1<<20)
	if _, err := rw.w.Write(make([]byte, runHeader)); err != nil {
		return nil, errors.Join(err, rw.abort())
	}
	rw.buf = make([]rec, 0, 4096)
	return rw, nil
}

func recBytes(rs []rec) []byte {
	if len(rs) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&rs[0])), len(rs)*recSize)
}

// add appends r, which sorts after every record added before.
func (rw *runWriter) add(r rec) error {
	if rw.f == nil {
		rw.mem = append(rw.mem, r)
		return nil
	}
	rw.buf = append(rw.buf, r)
	if len(rw.buf) == cap(rw.buf) {
		return rw.drain()
	}
	return nil
}

func (rw *runWriter) drain() error {
	b := recBytes(rw.buf)
	rw.crc = crc32.Update(rw.crc, crcTable, b)
	rw.n += uint64(len(rw.buf))
	rw.buf = rw.buf[:0]
	_, err := rw.w.Write(b)
	return err
}

// finish makes the run durable and opens it.
func (rw *runWriter) finish() (*run, error) {
	if rw.f == nil {
		return newRun(rw.id, slices.Clip(rw.mem)), nil
	}
	err := rw.drain()
	if err == nil {
		err = rw.w.Flush()
	}
	if err == nil {
		var h [runHeader]byte
		copy(h[:], runMagic)
		binary.NativeEndian.PutUint32(h[8:], runBOM)
		binary.NativeEndian.PutUint32(h[12:], uint32(recSize))
		binary.NativeEndian.PutUint64(h[16:], rw.n)
		binary.NativeEndian.PutUint32(h[24:], rw.crc)
		_, err = rw.f.WriteAt(h[:], 0)
	}
	if err == nil {
		err = rw.f.Sync()
	}
	if err == nil {
		err = rw.f.Close()
		rw.f = nil
	}
	if err == nil {
		err = os.Rename(rw.tmp, rw.final)
	}
	if err == nil {
		err = syncDir(filepath.Dir(rw.final))
	}
	if err != nil {
		return nil, errors.Join(err, rw.abort())
	}
	return openRun(rw.final, rw.id, false)
}

// abort deletes the unfinished run.
func (rw *runWriter) abort() error {
	var err error
	if rw.f != nil {
		err = rw.f.Close()
		rw.f = nil
	}
	if rw.tmp != "" {
		if rerr := os.Remove(rw.tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		if rerr := os.Remove(rw.final); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	rw.mem = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// openRun maps the run file at path; with verify it checks the records'
// checksum.
func openRun(path string, id uint64, verify bool) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < runHeader || (size-runHeader)%int64(recSize) != 0 {
		return nil, fmt.Errorf("%w: run %s has %d bytes", ErrCorrupt, path, size)
	}
	data, err := mmap(f, int(size))
	if err != nil {
		return nil, err
	}
	n := (size - runHeader) / int64(recSize)
	h := data[:runHeader]
	bad := string(h[:8]) != runMagic || binary.NativeEndian.Uint32(h[8:]) != runBOM ||
		binary.NativeEndian.Uint32(h[12:]) != uint32(recSize) || binary.NativeEndian.Uint64(h[16:]) != uint64(n)
	if !bad && verify {
		bad = crc32.Checksum(data[runHeader:], crcTable) != binary.NativeEndian.Uint32(h[24:])
	}
	if bad {
		return nil, errors.Join(fmt.Errorf("%w: run %s", ErrCorrupt, path), munmap(data))
	}
	var recs []rec
	if n > 0 {
		recs = unsafe.Slice((*rec)(unsafe.Pointer(&data[runHeader])), n)
	}
	r := newRun(id, recs)
	r.data, r.size, r.path = data, size, path
	return r, nil
}

// parseRunName returns the id of a run file name.
func parseRunName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, runExt)
	if !ok || len(s) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil
}

// encodeRuns and decodeRuns store the run list (newest first).
func encodeRuns(runs []*run) []byte {
	v := binary.AppendUvarint(nil, uint64(len(runs)))
	for _, r := range runs {
		v = binary.AppendUvarint(v, r.id)
	}
	return v
}

func decodeRuns(v []byte) ([]uint64, bool) {
	n, m := binary.Uvarint(v)
	if m <= 0 || n > uint64(len(v)) {
		return nil, false
	}
	v = v[m:]
	ids := make([]uint64, 0, n)
	for range n {
		id, m := binary.Uvarint(v)
		if m <= 0 {
			return nil, false
		}
		ids = append(ids, id)
		v = v[m:]
	}
	return ids, len(v) == 0
}

// mergeRuns passes the newest version of every key of srcs (newest
// first), in key order, to emit. With last (the result is the oldest run) tombstones and
// expired entries are dropped; else expired entries are kept (lookups
// treat them as missing, and an older version must stay shadowed).
func mergeRuns(srcs [][]rec, last bool, now uint32, stop func() error, emit func(rec) error) error {
	pos := make([]int, len(srcs))
	var n int
	for {
		if n++; n%(1<<16) == 0 && stop != nil {
			if err := stop(); err != nil {
				return err
			}
		}
		// The smallest key among the heads; the newest source wins ties.
		best := -1
		for i, s := range srcs {
			if pos[i] < len(s) && (best < 0 || s[pos[i]].less(&srcs[best][pos[best]])) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r := srcs[best][pos[best]]
		for i, s := range srcs {
			if pos[i] < len(s) && s[pos[i]].h1 == r.h1 && s[pos[i]].h2 == r.h2 {
				pos[i]++
			}
		}
		if last && !r.live(now) {
			continue
		}
		if err := emit(r); err != nil {
			return err
		}
	}
}

// sortRecs sorts recs by hash, stably: a counting sort on the top bits of
// h1 (hashes are uniform, so buckets hold a few records each), then an
// insertion sort of each bucket.
func sortRecs(recs []rec) {
	n := len(recs)
	if n < 64 {
		insertionSort(recs)
		return
	}
	nb := min(bits.Len(uint(n/4)), 24)
	shift := 64 - nb
	ends := make([]int, 1<<nb)
	for i := range recs {
		ends[recs[i].h1>>shift]++
	}
	sum := 0
	for b, c := range ends {
		ends[b] = sum // start, for now
		sum += c
	}
	tmp := make([]rec, n)
	for _, r := range recs {
		b := r.h1 >> shift
		tmp[ends[b]] = r
		ends[b]++
	}
	start := 0
	for _, end := range ends {
		if end-start > 1 {
			insertionSort(tmp[start:end])
		}
		start = end
	}
	copy(recs, tmp)
}

// insertionSort sorts recs by hash, stably.
func insertionSort(recs []rec) {
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && recs[j].less(&recs[j-1]); j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
}

// dedupe keeps the last of each run of equal keys in sorted recs.
func dedupe(recs []rec) []rec {
	out := recs[:0]
	for i := range recs {
		if i+1 < len(recs) && recs[i+1].h1 == recs[i].h1 && recs[i+1].h2 == recs[i].h2 {
			continue
		}
		out = append(out, recs[i])
	}
	return out
}
