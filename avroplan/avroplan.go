// Package avroplan owns the Avro-encoded instant files of a Hudi timeline
// (table version 6): compaction plans, cleaner plans and clean metadata,
// rollback plans and rollback metadata, requested replace metadata and
// savepoint metadata.
//
// Each such file is an Avro Object Container File holding one record:
//
//	+------+----------------------------+-----------+
//	| Obj\x01 | meta map {avro.schema}  | sync (16) |   header
//	+------+----------------------------+-----------+
//	| count=1 | byteLen | datum (binary) | sync (16)|   one block
//	+---------+---------+----------------+----------+
//
// The writer schema in the header is the schema Hudi 0.15.0's compiled Java
// classes (org.apache.hudi.avro.model.*, SCHEMA$) carry, byte for byte: the
// release .avsc files with referenced records inlined and
// "avro.java.string" properties, as embedded under schemas/. Like Java's
// DataFileWriter with the null codec, Encode writes no avro.codec key
// (absent means "null" in the Avro spec). Decode accepts the null and
// deflate codecs and resolves any compatible writer schema (older or newer
// Hudi releases) against the 0.15.0 schema.
//
// Usage:
//
//	var plan avroplan.HoodieCompactionPlan
//	if err := avroplan.Decode(r, &plan); err != nil { ... }
//	err := avroplan.Encode(w, &plan)
package avroplan

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
)

// Record is a top-level Hudi timeline record this package encodes: one of
// *HoodieCompactionPlan, *HoodieCleanerPlan, *HoodieCleanMetadata,
// *HoodieRollbackPlan, *HoodieRollbackMetadata,
// *HoodieRequestedReplaceMetadata, *HoodieSavepointMetadata.
type Record interface {
	// avroName is the record's Avro name in namespace
	// org.apache.hudi.avro.model.
	avroName() string
}

// Errors returned by Decode, wrapped with context; test with errors.Is.
var (
	// ErrCorrupt marks input that is not a well-formed Avro container file.
	ErrCorrupt = errors.New("avroplan: corrupt avro container")
	// ErrNoRecord marks a well-formed container without records (Java
	// rejects these too).
	ErrNoRecord = errors.New("avroplan: container holds no record")
	// ErrUnsupportedCodec marks a container compressed with a codec other
	// than null or deflate.
	ErrUnsupportedCodec = errors.New("avroplan: unsupported avro codec")
	// ErrSchemaMismatch marks a writer schema that cannot be resolved
	// against the record's Hudi 0.15.0 schema.
	ErrSchemaMismatch = errors.New("avroplan: writer schema incompatible")
)

const (
	// Namespace is the Avro namespace of every Hudi timeline record.
	Namespace = "org.apache.hudi.avro.model"

	schemaKey = "avro.schema"
	codecKey  = "avro.codec"
	syncSize  = 16
)

var magic = [4]byte{'O', 'b', 'j', 1}

//go:embed schemas/*.avsc
var schemaFS embed.FS

type schemaEntry struct {
	json   string
	schema avro.Schema
}

var schemas sync.Map // avro name -> func() (*schemaEntry, error)

// schemaFor returns the parsed 0.15.0 schema of the named record, parsing it
// on first use.
func schemaFor(name string) (*schemaEntry, error) {
	f, _ := schemas.LoadOrStore(name, sync.OnceValues(func() (*schemaEntry, error) {
		b, err := schemaFS.ReadFile("schemas/" + name + ".avsc")
		if err != nil {
			return nil, fmt.Errorf("avroplan: no schema for %s: %w", name, err)
		}
		js := strings.TrimSpace(string(b))
		s, err := parseSchema(js)
		if err != nil {
			return nil, err
		}
		return &schemaEntry{json: js, schema: s}, nil
	}))
	return f.(func() (*schemaEntry, error))()
}

// parseSchema parses with a private cache, so that writer schemas from files
// never redefine the names of our reader schemas.
func parseSchema(js string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(js, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("avroplan: parse schema: %w", err)
	}
	return s, nil
}

// SchemaJSON returns the writer schema Encode puts in the container header
// for rec's type: Hudi 0.15.0's schema, byte for byte as Java writes it.
func SchemaJSON(rec Record) (string, error) {
	e, err := schemaFor(rec.avroName())
	if err != nil {
		return "", err
	}
	return e.json, nil
}

// Encode writes rec to w as a single-record Avro container file with the
// null codec and Hudi 0.15.0's schema for rec's type as writer schema. rec
// must be a non-nil pointer.
func Encode(w io.Writer, rec Record) error {
	e, err := schemaFor(rec.avroName())
	if err != nil {
		return err
	}
	return encodeWithSchema(w, e.json, e.schema, rec)
}

func encodeWithSchema(w io.Writer, js string, s avro.Schema, v any) error {
	datum, err := avro.Marshal(s, v)
	if err != nil {
		return fmt.Errorf("avroplan: encode %s: %w", schemaName(s), err)
	}
	var sync [syncSize]byte
	if _, err := rand.Read(sync[:]); err != nil {
		return fmt.Errorf("avroplan: sync marker: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(js) + len(datum) + 64)
	buf.Write(magic[:])
	// Metadata map: one block of one entry, then the end-of-map marker.
	buf.Write(appendLong(nil, 1))
	writeBytes(&buf, []byte(schemaKey))
	writeBytes(&buf, []byte(js))
	buf.Write(appendLong(nil, 0))
	buf.Write(sync[:])
	// One data block with one record.
	buf.Write(appendLong(nil, 1))
	writeBytes(&buf, datum)
	buf.Write(sync[:])
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("avroplan: write: %w", err)
	}
	return nil
}

// Decode reads a single-record Avro container file from r into rec, which
// must be a non-nil pointer. The file's writer schema must have rec's record
// name; fields it lacks take the 0.15.0 schema's defaults and fields it adds
// are skipped. Records after the first are ignored, as Java does.
func Decode(r io.Reader, rec Record) error {
	e, err := schemaFor(rec.avroName())
	if err != nil {
		return err
	}
	h, br, err := readHeader(r)
	if err != nil {
		return err
	}
	writer, err := parseSchema(h.schema)
	if err != nil {
		return fmt.Errorf("%w: writer schema: %w", ErrCorrupt, err)
	}
	s, err := resolve(e.schema, writer)
	if err != nil {
		return err
	}
	datum, err := readFirstDatum(br, h)
	if err != nil {
		return err
	}
	if err := avro.NewDecoderForSchema(s, bytes.NewReader(datum)).Decode(rec); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, rec.avroName(), err)
	}
	return nil
}

// resolve returns the schema to decode writer-encoded data into reader's
// Go type.
func resolve(reader, writer avro.Schema) (avro.Schema, error) {
	want := schemaName(reader)
	if got := schemaName(writer); got != want {
		return nil, fmt.Errorf("%w: writer record %s, want %s", ErrSchemaMismatch, got, want)
	}
	if reader.Fingerprint() == writer.Fingerprint() {
		return reader, nil
	}
	s, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSchemaMismatch, want, err)
	}
	return s, nil
}

func schemaName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

type header struct {
	schema string
	codec  string
	sync   [syncSize]byte
}

// readHeader parses the container header. The returned reader is positioned
// at the first block.
func readHeader(r io.Reader) (*header, *bufio.Reader, error) {
	br := bufio.NewReader(r)
	var m [4]byte
	if _, err := io.ReadFull(br, m[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: magic: %w", ErrCorrupt, err)
	}
	if m != magic {
		return nil, nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, m[:])
	}
	meta := map[string][]byte{}
	for {
		n, err := readLong(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: metadata: %w", ErrCorrupt, err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			// Negative count: a byte size follows.
			n = -n
			if _, err := readLong(br); err != nil {
				return nil, nil, fmt.Errorf("%w: metadata: %w", ErrCorrupt, err)
			}
		}
		for range n {
			k, err := readBytes(br)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: metadata key: %w", ErrCorrupt, err)
			}
			v, err := readBytes(br)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: metadata value: %w", ErrCorrupt, err)
			}
			meta[string(k)] = v
		}
	}
	h := &header{schema: string(meta[schemaKey]), codec: string(meta[codecKey])}
	if h.schema == "" {
		return nil, nil, fmt.Errorf("%w: no %s", ErrCorrupt, schemaKey)
	}
	if h.codec == "" {
		h.codec = "null"
	}
	if h.codec != "null" && h.codec != "deflate" {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnsupportedCodec, h.codec)
	}
	if _, err := io.ReadFull(br, h.sync[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: sync: %w", ErrCorrupt, err)
	}
	return h, br, nil
}

// readFirstDatum returns the binary encoding of the first record, skipping
// leading empty blocks.
func readFirstDatum(br *bufio.Reader, h *header) ([]byte, error) {
	for {
		count, err := readLong(br)
		if errors.Is(err, io.EOF) {
			return nil, ErrNoRecord
		}
		if err != nil {
			return nil, fmt.Errorf("%w: block count: %w", ErrCorrupt, err)
		}
		data, err := readBytes(br)
		if err != nil {
			return nil, fmt.Errorf("%w: block: %w", ErrCorrupt, err)
		}
		var sync [syncSize]byte
		if _, err := io.ReadFull(br, sync[:]); err != nil {
			return nil, fmt.Errorf("%w: block sync: %w", ErrCorrupt, err)
		}
		if sync != h.sync {
			return nil, fmt.Errorf("%w: block sync mismatch", ErrCorrupt)
		}
		if count < 0 {
			return nil, fmt.Errorf("%w: negative block count %d", ErrCorrupt, count)
		}
		if count == 0 {
			continue
		}
		if h.codec == "deflate" {
			if data, err = io.ReadAll(flate.NewReader(bytes.NewReader(data))); err != nil {
				return nil, fmt.Errorf("%w: deflate: %w", ErrCorrupt, err)
			}
		}
		return data, nil
	}
}

// maxLen bounds lengths read from the header or a block (Hudi's instant
// files are kilobytes; this only guards allocations on corrupt input).
const maxLen = 1 << 30

// readLong reads a zig-zag varint long. It returns io.EOF only if the
// input ends before its first byte.
func readLong(br *bufio.Reader) (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := br.ReadByte()
		if err != nil {
			if shift > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		u |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("varint overflow")
}

func readBytes(br *bufio.Reader) ([]byte, error) {
	n, err := readLong(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if n < 0 || n > maxLen {
		return nil, fmt.Errorf("bad length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func writeBytes(buf *bytes.Buffer, p []byte) {
	buf.Write(appendLong(nil, int64(len(p))))
	buf.Write(p)
}
