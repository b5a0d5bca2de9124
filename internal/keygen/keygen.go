// Package keygen owns record keys and partition paths: it computes, from
// Arrow record batches, exactly the `_hoodie_record_key` and
// `_hoodie_partition_path` strings Java Hudi 0.14/0.15 computes for the same
// rows written through Spark, so that hoodie and Spark upserts agree on which
// record is which and where it lives.
//
// Key generators (hoodie.table.keygenerator.class):
//
//	Simple          key  = str(f)                      null or empty: error
//	                part = one field
//	Complex         key  = f1:str(f1),f2:str(f2)       null "__null__", empty "__empty__",
//	                                                   all null/empty: error;
//	                                                   one key field: as Simple (Hudi 0.14.1+)
//	                part = any number of fields
//	NonPartitioned  key  = as Simple for one field, as Complex for several
//	                part = ""
//	TimestampBased  key  = as Simple
//	                part = the one field's time formatted with a Joda pattern
//	                       (Config.Timestamp, hoodie.keygen.timebased.*; see
//	                       TimestampOptions and timebased.go)
//
// A partition path joins, with "/", per partition field its value string,
// or DefaultPartition when null or empty, %-escaped by EscapePathName when
// URLEncode is set, prefixed by "field=" when HiveStyle is set.
//
// Value strings follow HoodieAvroUtils.getNestedFieldValAsString on the Avro
// record Spark hands Hudi (convertValueForAvroLogicalTypes, with the default
// hoodie.datasource.write.keygenerator.consistent.logical.timestamp.enabled=false):
//
//	bool                   "true" / "false"
//	int8..int64, uint*     decimal ("-12")
//	float32 / float64      Float.toString / Double.toString ("1.0", "1.0E7", "NaN")
//	string types           as is (must be valid UTF-8)
//	date32 / date64        LocalDate.toString ("2024-01-31")
//	timestamp (any unit)   epoch microseconds as a decimal long ("1696118400000000"):
//	                       Spark's TimestampType is Avro timestamp-micros and, without
//	                       consistent logical timestamps, Hudi stringifies the raw long
//	decimal*               BigDecimal.toString of the value at the type's scale
//	                       ("123.45000", "1E-7")
//	dictionary             as its value type
//
// Binary, nested (list, map, struct), time, duration and interval types are
// rejected by New: Hudi would stringify them as Java object dumps. Struct
// children are reachable with dotted names ("a.b"), as in Hudi; a null
// parent makes the value null.
//
// hoodie never writes outside the table: a partition value that, unescaped,
// contains "/" (hudi-rs requires one segment per field), "\" or NUL, or that
// is "." or ".." or starts with ".hoodie" (the metadata folder and partition
// files) as a whole non-hive segment, is a bad row. So is a value whose
// segment exceeds MaxPartitionSegmentLen bytes or whose partition path
// exceeds MaxPartitionPathLen, and a record key longer than MaxRecordKeyLen:
// the write would fail only at commit, for every row. Bad rows are
// reported as *RowError naming the row, field and reason; KeysLenient
// collects them all instead of stopping at the first.
//
//	g, err := keygen.New(keygen.Config{
//		RecordKeyFields: []string{"uuid"},
//		PartitionFields: []string{"city"},
//		Kind:            keygen.Simple,
//		HiveStyle:       true,
//	}, rec.Schema())
//	keys, parts, err := g.Keys(rec)
package keygen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/hoodie-lake/hoodie/internal/hivepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Kind is a Hudi key generator.
type Kind int

const (
	// Infer picks the kind as Hudi infers it when no key generator class is
	// configured: NonPartitioned without partition fields, Complex with more
	// than one record key or partition field, else Simple.
	Infer Kind = iota
	// Simple is org.apache.hudi.keygen.SimpleKeyGenerator.
	Simple
	// Complex is org.apache.hudi.keygen.ComplexKeyGenerator.
	Complex
	// NonPartitioned is org.apache.hudi.keygen.NonpartitionedKeyGenerator.
	NonPartitioned
	// TimestampBased is org.apache.hudi.keygen.TimestampBasedKeyGenerator:
	// the key as Simple, the partition path the time in the one partition
	// field formatted per Config.Timestamp (see TimestampOptions).
	TimestampBased
)

// Key generator class names as hoodie.table.keygenerator.class spells them.
const (
	SimpleClass         = "org.apache.hudi.keygen.SimpleKeyGenerator"
	ComplexClass        = "org.apache.hudi.keygen.ComplexKeyGenerator"
	NonPartitionedClass = "org.apache.hudi.keygen.NonpartitionedKeyGenerator"
	TimestampBasedClass = "org.apache.hudi.keygen.TimestampBasedKeyGenerator"
)

// Size limits of keys and partition paths. Hudi defines none, but storage
// does: hoodie refuses such rows up front rather than fail the commit.
const (
	// MaxPartitionSegmentLen bounds one partition path segment
	// ("field=value" when hive-style, escaped): NAME_MAX of common local
	// file systems.
	MaxPartitionSegmentLen = 255
	// MaxPartitionPathLen bounds a whole partition path, leaving room for
	// a table prefix and a base file name (about 85 bytes) within S3's
	// 1024-byte object keys.
	MaxPartitionPathLen = 768
	// MaxRecordKeyLen bounds a record key, so that key plus partition path
	// fit the record-key index (60000 bytes per entry).
	MaxRecordKeyLen = 32 << 10
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Infer:
		return "infer"
	case Simple:
		return "simple"
	case Complex:
		return "complex"
	case NonPartitioned:
		return "nonpartitioned"
	case TimestampBased:
		return "timestampbased"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Class is the Java class name to record in hoodie.table.keygenerator.class,
// or "" for Infer and unknown kinds.
func (k Kind) Class() string {
	switch k {
	case Simple:
		return SimpleClass
	case Complex:
		return ComplexClass
	case NonPartitioned:
		return NonPartitionedClass
	case TimestampBased:
		return TimestampBasedClass
	}
	return ""
}

// ErrUnsupported marks key generator classes hoodie does not implement
// (custom, ...). Use errors.Is.
var ErrUnsupported = errors.New("keygen: unsupported key generator")

// KindFromClass maps a hoodie.table.keygenerator.class value (the Spark or
// Avro variant) to a Kind. An empty class means Infer.
func KindFromClass(class string) (Kind, error) {
	switch class {
	case "":
		return Infer, nil
	case SimpleClass, "org.apache.hudi.keygen.SimpleAvroKeyGenerator":
		return Simple, nil
	case ComplexClass, "org.apache.hudi.keygen.ComplexAvroKeyGenerator":
		return Complex, nil
	case NonPartitionedClass, "org.apache.hudi.keygen.NonpartitionedAvroKeyGenerator":
		return NonPartitioned, nil
	case TimestampBasedClass, "org.apache.hudi.keygen.TimestampBasedAvroKeyGenerator":
		return TimestampBased, nil
	}
	return 0, fmt.Errorf("%w: %s", ErrUnsupported, class)
}

// Config selects the fields and rules. The zero Kind infers the kind.
type Config struct {
	// RecordKeyFields (hoodie.table.recordkey.fields), at least one; dotted
	// names reach into structs.
	RecordKeyFields []string
	// PartitionFields (hoodie.table.partition.fields): exactly one for
	// Simple, none for NonPartitioned, any number for Complex.
	PartitionFields []string
	// Kind is the key generator; Infer (zero) picks it as Hudi does.
	Kind Kind
	// HiveStyle (hoodie.datasource.write.hive_style_partitioning) writes
	// "field=value" segments. Default false: bare values.
	HiveStyle bool
	// URLEncode (hoodie.datasource.write.partitionpath.urlencode) %-escapes
	// partition values. Default false: values containing "/" are rejected
	// (except the "/" of a TimestampBased output date format).
	URLEncode bool
	// Timestamp configures the TimestampBased kind (hoodie.keygen.timebased.*);
	// ignored by the other kinds.
	Timestamp TimestampOptions
}

// RowError is one row whose key or partition path cannot be built. Callers
// route such rows to an error output; find it with errors.As.
type RowError struct {
	// Row is the row index within the batch.
	Row int
	// Field is the offending field, or the comma-joined record key fields
	// when all of them are null or empty.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *RowError) Error() string {
	return fmt.Sprintf("keygen: row %d: field %q: %s", e.Row, e.Field, e.Reason)
}

// appender appends the value string of row i, or reports false for null.
type appender func(dst []byte, i int) ([]byte, bool)

// field is a configured field resolved against the schema.
type field struct {
	name string
	// path is the top-level column index then struct child indices.
	path []int
	typ  arrow.DataType
	// text marks string types, whose bytes need UTF-8 validation.
	text bool
}

// Generator computes keys and partition paths for batches of one schema. It
// is immutable and safe for concurrent use.
type Generator struct {
	cfg    Config
	kind   Kind
	schema *arrow.Schema
	keys   []field
	parts  []field
	// bareKey: the key is the one field's string (Simple rules).
	bareKey bool
	// keyFieldList is the comma-joined key fields, for all-null errors.
	keyFieldList string
	// ts is the compiled Timestamp configuration of the TimestampBased
	// kind (else nil); tsNumeric: the partition field holds numbers.
	ts        *timestampGen
	tsNumeric bool
}

// New validates cfg against schema: fields exist (dotted names through
// structs), have supported types, and fit the kind.
func New(cfg Config, schema *arrow.Schema) (*Generator, error) {
	if schema == nil {
		return nil, errors.New("keygen: nil schema")
	}
	cfg.RecordKeyFields = append([]string(nil), cfg.RecordKeyFields...)
	cfg.PartitionFields = append([]string(nil), cfg.PartitionFields...)
	if len(cfg.RecordKeyFields) == 0 {
		return nil, errors.New("keygen: no record key fields")
	}
	kind := cfg.Kind
	if kind == Infer {
		switch {
		case len(cfg.PartitionFields) == 0:
			kind = NonPartitioned
		case len(cfg.RecordKeyFields) > 1 || len(cfg.PartitionFields) > 1:
			kind = Complex
		default:
			kind = Simple
		}
	}
	switch kind {
	case Simple:
		if len(cfg.RecordKeyFields) != 1 {
			return nil, fmt.Errorf("keygen: simple key generator takes one record key field, got %d (%s); use complex",
				len(cfg.RecordKeyFields), strings.Join(cfg.RecordKeyFields, ","))
		}
		if len(cfg.PartitionFields) != 1 {
			return nil, fmt.Errorf("keygen: simple key generator takes one partition field, got %d; use complex or nonpartitioned",
				len(cfg.PartitionFields))
		}
	case Complex:
	case NonPartitioned:
		if len(cfg.PartitionFields) != 0 {
			return nil, fmt.Errorf("keygen: nonpartitioned key generator takes no partition fields, got %s",
				strings.Join(cfg.PartitionFields, ","))
		}
	case TimestampBased:
		if len(cfg.RecordKeyFields) != 1 {
			return nil, fmt.Errorf("keygen: timestamp-based key generator takes one record key field, got %d (%s)",
				len(cfg.RecordKeyFields), strings.Join(cfg.RecordKeyFields, ","))
		}
		if len(cfg.PartitionFields) != 1 {
			return nil, fmt.Errorf("keygen: timestamp-based key generator takes one partition field, got %d", len(cfg.PartitionFields))
		}
	default:
		return nil, fmt.Errorf("keygen: unknown kind %d", int(kind))
	}
	g := &Generator{
		cfg:          cfg,
		kind:         kind,
		schema:       schema,
		bareKey:      len(cfg.RecordKeyFields) == 1,
		keyFieldList: strings.Join(cfg.RecordKeyFields, ","),
	}
	seen := map[string]bool{}
	for _, name := range cfg.RecordKeyFields {
		if seen[name] {
			return nil, fmt.Errorf("keygen: record key field %q listed twice", name)
		}
		seen[name] = true
		f, err := resolve(schema, name)
		if err != nil {
			return nil, fmt.Errorf("keygen: record key field: %w", err)
		}
		g.keys = append(g.keys, f)
	}
	clear(seen)
	for _, name := range cfg.PartitionFields {
		if seen[name] {
			return nil, fmt.Errorf("keygen: partition field %q listed twice", name)
		}
		seen[name] = true
		if strings.ContainsAny(name, "/\\=\x00") {
			return nil, fmt.Errorf("keygen: partition field name %q contains one of / \\ = NUL", name)
		}
		f, err := resolve(schema, name)
		if err != nil {
			return nil, fmt.Errorf("keygen: partition field: %w", err)
		}
		g.parts = append(g.parts, f)
	}
	if kind == TimestampBased {
		ts, err := compileTimestamp(cfg.Timestamp)
		if err != nil {
			return nil, err
		}
		if g.tsNumeric, err = ts.checkField(g.parts[0].name, g.parts[0].typ); err != nil {
			return nil, err
		}
		g.ts = ts
	}
	return g, nil
}

// Kind is the key generator in use (never Infer).
func (g *Generator) Kind() Kind { return g.kind }

// Config returns the configuration with the resolved kind.
func (g *Generator) Config() Config {
	c := g.cfg
	c.Kind = g.kind
	c.RecordKeyFields = append([]string(nil), c.RecordKeyFields...)
	c.PartitionFields = append([]string(nil), c.PartitionFields...)
	return c
}

func resolve(schema *arrow.Schema, name string) (field, error) {
	parts := strings.Split(name, ".")
	f := field{name: name}
	idx := schema.FieldIndices(parts[0])
	if len(idx) == 0 {
		return f, fmt.Errorf("%q not in schema", name)
	}
	if len(idx) > 1 {
		return f, fmt.Errorf("%q: %d top-level fields named %q", name, len(idx), parts[0])
	}
	f.path = append(f.path, idx[0])
	dt := schema.Field(idx[0]).Type
	for _, p := range parts[1:] {
		st, ok := dt.(*arrow.StructType)
		if !ok {
			return f, fmt.Errorf("%q: %s is not a struct", name, dt)
		}
		ci := st.FieldIndices(p)
		if len(ci) != 1 {
			return f, fmt.Errorf("%q: struct has %d fields named %q", name, len(ci), p)
		}
		f.path = append(f.path, ci[0])
		dt = st.Field(ci[0]).Type
	}
	text, err := checkType(dt)
	if err != nil {
		return f, fmt.Errorf("%q: %w", name, err)
	}
	f.typ = dt
	f.text = text
	return f, nil
}

// checkType accepts the types whose Hudi string form hoodie reproduces.
func checkType(dt arrow.DataType) (text bool, err error) {
	switch dt.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP,
		arrow.DECIMAL32, arrow.DECIMAL64, arrow.DECIMAL128, arrow.DECIMAL256:
		return false, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true, nil
	case arrow.DICTIONARY:
		return checkType(dt.(*arrow.DictionaryType).ValueType)
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return false, fmt.Errorf("binary type %s cannot be a key or partition field: Hudi would stringify the ByteBuffer object, not its content; cast to string first", dt)
	}
	return false, fmt.Errorf("type %s cannot be a key or partition field", dt)
}

// bound is a field bound to one batch's arrays.
type bound struct {
	field
	parents []*array.Struct
	leaf    arrow.Array
	app     appender
}

func (b *bound) value(dst []byte, i int) ([]byte, bool) {
	for _, p := range b.parents {
		if p.IsNull(i) {
			return dst, false
		}
	}
	return b.app(dst, i)
}

func (g *Generator) bind(rec arrow.RecordBatch, fs []field) ([]bound, error) {
	out := make([]bound, len(fs))
	for j, f := range fs {
		if int(rec.NumCols()) <= f.path[0] || rec.Schema().Field(f.path[0]).Name != g.schema.Field(f.path[0]).Name {
			return nil, fmt.Errorf("keygen: batch schema differs from the generator's at field %q", f.name)
		}
		col := rec.Column(f.path[0])
		var parents []*array.Struct
		for _, ci := range f.path[1:] {
			st, ok := col.(*array.Struct)
			if !ok {
				return nil, fmt.Errorf("keygen: batch schema differs from the generator's at field %q", f.name)
			}
			if st.NullN() > 0 {
				parents = append(parents, st)
			}
			col = st.Field(ci)
		}
		if !arrow.TypeEqual(col.DataType(), f.typ) {
			return nil, fmt.Errorf("keygen: field %q is %s in the batch, %s in the generator's schema", f.name, col.DataType(), f.typ)
		}
		app, err := makeAppender(col)
		if err != nil {
			return nil, fmt.Errorf("keygen: field %q: %w", f.name, err)
		}
		out[j] = bound{field: f, parents: parents, leaf: col, app: app}
	}
	return out, nil
}

// Keys returns the record key and partition path of every row, or the first
// bad row as a *RowError. The returned strings do not alias rec's buffers.
func (g *Generator) Keys(rec arrow.RecordBatch) (keys, partitions []string, err error) {
	keys, partitions, bad, err := g.run(rec, false)
	if err != nil {
		return nil, nil, err
	}
	if len(bad) > 0 {
		return nil, nil, &bad[0]
	}
	return keys, partitions, nil
}

// KeysLenient is Keys that collects every bad row instead of stopping: bad
// rows get "" as key and partition and are listed in bad, in row order, one
// RowError per row. It fails only when rec does not match the schema, with
// every row reported bad.
func (g *Generator) KeysLenient(rec arrow.RecordBatch) (keys, partitions []string, bad []RowError) {
	keys, partitions, bad, err := g.run(rec, true)
	if err != nil {
		n := 0
		if rec != nil {
			n = int(rec.NumRows())
		}
		bad = make([]RowError, n)
		for i := range bad {
			bad[i] = RowError{Row: i, Field: "", Reason: err.Error()}
		}
		return make([]string, n), make([]string, n), bad
	}
	return keys, partitions, bad
}

func (g *Generator) run(rec arrow.RecordBatch, lenient bool) (keys, partitions []string, bad []RowError, err error) {
	if rec == nil {
		return nil, nil, nil, errors.New("keygen: nil batch")
	}
	kf, err := g.bind(rec, g.keys)
	if err != nil {
		return nil, nil, nil, err
	}
	pf, err := g.bind(rec, g.parts)
	if err != nil {
		return nil, nil, nil, err
	}
	if g.ts != nil {
		if pf[0].app, err = g.ts.appender(pf[0].leaf); err != nil {
			return nil, nil, nil, fmt.Errorf("keygen: field %q: %w", pf[0].name, err)
		}
	}
	n := int(rec.NumRows())
	partitions = make([]string, n)
	offsets := make([]int, n+1)
	kbuf := make([]byte, 0, keySizeHint(kf, n))
	var (
		raw, pbuf    []byte
		lastRaw      []byte
		lastPartStr  string
		lastBadField string
		lastReason   string
		havePart     bool
		cache        = map[string]partResult{}
	)
	fail := func(row int, field, reason string) bool {
		bad = append(bad, RowError{Row: row, Field: field, Reason: reason})
		return lenient
	}
rows:
	for i := range n {
		start := len(kbuf)
		var ok bool
		if g.bareKey {
			f := &kf[0]
			kbuf, ok = f.value(kbuf, i)
			switch {
			case !ok:
				kbuf = kbuf[:start]
				if !fail(i, f.name, "record key is null") {
					break rows
				}
				offsets[i+1] = len(kbuf)
				continue
			case len(kbuf) == start:
				if !fail(i, f.name, "record key is empty") {
					break rows
				}
				offsets[i+1] = len(kbuf)
				continue
			case f.text && !utf8.Valid(kbuf[start:]):
				kbuf = kbuf[:start]
				if !fail(i, f.name, "record key is not valid UTF-8") {
					break rows
				}
				offsets[i+1] = len(kbuf)
				continue
			}
		} else {
			allNullOrEmpty := true
			var badUTF8 string
			for j := range kf {
				f := &kf[j]
				if j > 0 {
					kbuf = append(kbuf, ',')
				}
				kbuf = append(kbuf, f.name...)
				kbuf = append(kbuf, ':')
				vs := len(kbuf)
				kbuf, ok = f.value(kbuf, i)
				switch {
				case !ok:
					kbuf = append(kbuf[:vs], "__null__"...)
				case len(kbuf) == vs:
					kbuf = append(kbuf, "__empty__"...)
				default:
					allNullOrEmpty = false
					if f.text && badUTF8 == "" && !utf8.Valid(kbuf[vs:]) {
						badUTF8 = f.name
					}
				}
			}
			reason, fieldName := "", ""
			switch {
			case allNullOrEmpty:
				reason, fieldName = "all record key fields are null or empty", g.keyFieldList
			case badUTF8 != "":
				reason, fieldName = "record key is not valid UTF-8", badUTF8
			}
			if reason != "" {
				kbuf = kbuf[:start]
				if !fail(i, fieldName, reason) {
					break rows
				}
				offsets[i+1] = len(kbuf)
				continue
			}
		}

		if n := len(kbuf) - start; n > MaxRecordKeyLen {
			kbuf = kbuf[:start]
			field := g.keyFieldList
			if g.bareKey {
				field = kf[0].name
			}
			if !fail(i, field, fmt.Sprintf("record key of %d bytes exceeds %d", n, MaxRecordKeyLen)) {
				break rows
			}
			offsets[i+1] = len(kbuf)
			continue
		}

		// Partition values repeat from row to row: encode the raw values
		// (tag 0 null, or tag 1, 4-byte length, bytes) and redo the path
		// only when they change.
		raw = raw[:0]
		for j := range pf {
			mark := len(raw)
			raw = append(raw, 1, 0, 0, 0, 0)
			raw, ok = pf[j].value(raw, i)
			if !ok {
				raw = append(raw[:mark], 0)
				continue
			}
			binary.LittleEndian.PutUint32(raw[mark+1:], uint32(len(raw)-mark-5))
		}
		if !havePart || !bytes.Equal(raw, lastRaw) {
			r, hit := cache[string(raw)]
			if !hit {
				pbuf, r.field, r.reason = g.partitionPath(pf, raw, pbuf[:0])
				if r.reason == "" {
					r.path = string(pbuf)
				}
				cache[string(raw)] = r
			}
			lastPartStr, lastBadField, lastReason = r.path, r.field, r.reason
			lastRaw = append(lastRaw[:0], raw...)
			havePart = true
		}
		if lastReason != "" {
			kbuf = kbuf[:start]
			if !fail(i, lastBadField, lastReason) {
				break rows
			}
			offsets[i+1] = len(kbuf)
			continue
		}
		partitions[i] = lastPartStr
		offsets[i+1] = len(kbuf)
	}
	if len(bad) > 0 && !lenient {
		return nil, nil, bad[:1], nil
	}
	// One backing string for all keys: kbuf is never written again.
	all := unsafe.String(unsafe.SliceData(kbuf), len(kbuf))
	keys = make([]string, n)
	for i := range n {
		keys[i] = all[offsets[i]:offsets[i+1]]
	}
	return keys, partitions, bad, nil
}

// partResult is a partition path, or why a row's values cannot make one.
type partResult struct{ path, field, reason string }

// keySizeHint estimates the bytes of all keys of a batch of n rows so the
// key buffer rarely grows.
func keySizeHint(kf []bound, n int) int {
	size := 0
	for j := range kf {
		if len(kf) > 1 {
			size += n * (len(kf[j].name) + 2)
		}
		switch a := kf[j].leaf.(type) {
		case *array.String:
			if a.Len() > 0 {
				size += a.ValueOffset(a.Len()-1) + a.ValueLen(a.Len()-1) - a.ValueOffset(0)
			}
		case *array.LargeString:
			if a.Len() > 0 {
				size += int(a.ValueOffset(a.Len()-1)-a.ValueOffset(0)) + a.ValueLen(a.Len()-1)
			}
		default:
			size += n * 12
		}
	}
	return size
}

// partitionPath builds the partition path from raw-encoded values (see run)
// into dst, or returns the field and reason it cannot be written.
func (g *Generator) partitionPath(pf []bound, raw, dst []byte) (path []byte, field, reason string) {
	if g.ts != nil {
		return g.timestampPartitionPath(pf, raw, dst)
	}
	for j := range pf {
		f := &pf[j]
		if j > 0 {
			dst = append(dst, '/')
		}
		seg := len(dst)
		if g.cfg.HiveStyle {
			dst = append(dst, f.name...)
			dst = append(dst, '=')
		}
		var v []byte
		if raw[0] == 1 {
			n := int(binary.LittleEndian.Uint32(raw[1:]))
			v, raw = raw[5:5+n], raw[5+n:]
		} else {
			raw = raw[1:]
		}
		switch {
		case len(v) == 0:
			dst = append(dst, DefaultPartition...)
		case g.cfg.URLEncode:
			if reason := g.checkPartitionValue(v, f.text); reason != "" {
				return dst, f.name, reason
			}
			dst = hivepath.AppendEscaped(dst, v)
		default:
			if reason := g.checkPartitionValue(v, f.text); reason != "" {
				return dst, f.name, reason
			}
			dst = append(dst, v...)
		}
		if n := len(dst) - seg; n > MaxPartitionSegmentLen {
			return dst, f.name, fmt.Sprintf("partition path segment %s exceeds %d bytes", short(dst[seg:]), MaxPartitionSegmentLen)
		}
	}
	if len(dst) > MaxPartitionPathLen {
		return dst, g.partFieldList(), fmt.Sprintf("partition path of %d bytes exceeds %d", len(dst), MaxPartitionPathLen)
	}
	return dst, "", ""
}

// partFieldList is the comma-joined partition field names.
func (g *Generator) partFieldList() string {
	names := make([]string, len(g.parts))
	for i, f := range g.parts {
		names[i] = f.name
	}
	return strings.Join(names, ",")
}

// short quotes v for an error message, truncated to 64 bytes.
func short(v []byte) string {
	const limit = 64
	if len(v) <= limit {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:limit], len(v))
}

// pathUnsafe marks the bytes a partition value may not hold unescaped.
var pathUnsafe = [256]bool{'/': true, '\\': true, 0: true}

// checkPartitionValue returns why a non-empty partition value (before
// escaping) cannot be written, or "".
func (g *Generator) checkPartitionValue(v []byte, text bool) string {
	unsafeByte, nonASCII := false, false
	for _, c := range v {
		unsafeByte = unsafeByte || pathUnsafe[c]
		nonASCII = nonASCII || c >= 0x80
	}
	if text && nonASCII && !utf8.Valid(v) {
		return "partition value is not valid UTF-8"
	}
	if !g.cfg.HiveStyle && (string(v) == "." || string(v) == "..") {
		return fmt.Sprintf("partition value %q would be a %q path segment", v, v)
	}
	if !g.cfg.HiveStyle && bytes.HasPrefix(v, []byte(".hoodie")) {
		return fmt.Sprintf("partition value %s would be a path segment starting with \".hoodie\", reserved for Hudi metadata", short(v))
	}
	if !unsafeByte || g.cfg.URLEncode {
		// With URL encoding every other dangerous byte is escaped.
		return ""
	}
	switch {
	case bytes.IndexByte(v, '/') >= 0:
		return fmt.Sprintf("partition value %s contains '/', which would split it into several path segments (hudi-rs needs one per field); enable URL encoding (hoodie.datasource.write.partitionpath.urlencode=true)", short(v))
	case bytes.IndexByte(v, '\\') >= 0:
		return fmt.Sprintf("partition value %s contains '\\', a path separator on some systems; enable URL encoding (hoodie.datasource.write.partitionpath.urlencode=true)", short(v))
	default:
		return "partition value contains NUL; enable URL encoding (hoodie.datasource.write.partitionpath.urlencode=true)"
	}
}
