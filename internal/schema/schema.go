// Package schema owns the table schema model of a Hudi table: the Avro record
// schema of the data columns, its JSON forms (with and without the five Hudi
// meta fields), the mapping to and from Arrow, and the schema evolution rules
// applied when a write brings a new schema.
//
// The model is a small tree of [Type] values. It is deliberately narrower than
// Avro: every type is either a primitive, a decimal, a date/timestamp, an
// array, a string-keyed map or a record, optionally nullable (a union with
// "null"). That is exactly what Spark's SchemaConverters produce for Hudi
// tables.
//
// Names follow Spark/Hudi (AvroConversionUtils): the top record is
// `<table>_record` in namespace `hoodie.<table>`; a nested record (struct, or
// the element/value record of an array/map) is named after its field and lives
// in the namespace of the enclosing record's full name; a decimal's fixed type
// is named `fixed` in namespace `<enclosing record full name>.<field>`.
//
// Type mapping (Arrow -> Avro -> Arrow):
//
//	bool                      boolean                     bool
//	int8/16/32, uint8/16      int                         int32
//	int64, uint32             long                        int64
//	float32 / float64         float / double              float32 / float64
//	string, large_string      string                      string
//	binary, large_binary      bytes                       binary
//	fixed_size_binary(n)      fixed(n)                    fixed_size_binary(n)
//	decimal128(p,s)           fixed(minBytes(p)) decimal  decimal128(p,s)
//	date32                    int date                    date32
//	timestamp(s|us|ns, tz)    long timestamp-micros       timestamp(us, UTC)
//	timestamp(ms, tz)         long timestamp-millis       timestamp(ms, UTC)
//	(parsed only)             long local-timestamp-*      timestamp(unit, no tz)
//	list / large_list         array                       list<element>
//	map<string, V>            map                         map<string, V>
//	struct                    record                      struct
//
// Timestamps: Spark's TIMESTAMP is an instant, written as timestamp-micros with
// isAdjustedToUTC=true, so every Arrow timestamp maps to it whatever its time
// zone (a zone-less Arrow timestamp is taken to be UTC; the zone string itself
// is dropped). Second and nanosecond timestamps become microseconds (the writer
// converts; nanoseconds are truncated). ToArrow returns "UTC".
package schema

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrInvalid marks a malformed or unsupported schema.
	ErrInvalid = errors.New("schema: invalid schema")
	// ErrUnsupportedType marks an Arrow or Avro type the model cannot hold.
	ErrUnsupportedType = errors.New("schema: unsupported type")
	// ErrIncompatible marks a schema change that Evolve refuses.
	ErrIncompatible = errors.New("schema: incompatible schema change")
)

// Hudi meta field names, in the order they lead every base file and log block.
const (
	CommitTimeField    = "_hoodie_commit_time"
	CommitSeqNoField   = "_hoodie_commit_seqno"
	RecordKeyField     = "_hoodie_record_key"
	PartitionPathField = "_hoodie_partition_path"
	FileNameField      = "_hoodie_file_name"
)

// IsDeletedField is the boolean data column that marks a record as a
// delete (Hudi's soft-delete convention).
const IsDeletedField = "_hoodie_is_deleted"

// MetaFields lists the five Hudi meta fields in file order.
var MetaFields = [5]string{CommitTimeField, CommitSeqNoField, RecordKeyField, PartitionPathField, FileNameField}

// IsMetaField reports whether name is one of the five Hudi meta fields.
func IsMetaField(name string) bool {
	for _, m := range MetaFields {
		if m == name {
			return true
		}
	}
	return false
}

// Kind is the kind of a Type.
type Kind uint8

// Kinds of types. Date and the timestamps are Avro logical types over int/long.
const (
	Boolean Kind = iota + 1
	Int
	Long
	Float
	Double
	String
	Bytes
	Fixed
	Decimal
	Date
	TimestampMicros
	TimestampMillis
	LocalTimestampMicros
	LocalTimestampMillis
	Array
	Map
	Record
)

var kindNames = [...]string{
	Boolean: "boolean", Int: "int", Long: "long", Float: "float", Double: "double",
	String: "string", Bytes: "bytes", Fixed: "fixed", Decimal: "decimal", Date: "date",
	TimestampMicros: "timestamp-micros", TimestampMillis: "timestamp-millis",
	LocalTimestampMicros: "local-timestamp-micros", LocalTimestampMillis: "local-timestamp-millis",
	Array: "array", Map: "map", Record: "record",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Type is one node of the schema tree.
type Type struct {
	Kind Kind
	// Nullable: the Avro type is a union of "null" and this type.
	Nullable bool
	// Precision and Scale of a Decimal.
	Precision, Scale int
	// Size of a Fixed, or of the fixed backing a Decimal (0: bytes-backed decimal).
	Size int
	// Items of an Array.
	Items *Type
	// Values of a Map (keys are always strings).
	Values *Type
	// Fields of a Record.
	Fields []Field
	// Name and Namespace of a named type (Record, Fixed, fixed-backed Decimal).
	// Empty names are filled Spark-style when the schema is built.
	Name, Namespace string
}

// Field is a named member of a record.
type Field struct {
	Name string
	Type *Type
	// Doc is the Avro "doc" attribute, kept when parsed and written back.
	Doc string
}

// Schema is a table schema: an Avro record of the data columns, without meta
// fields.
type Schema struct {
	Name      string
	Namespace string
	Fields    []Field
}

// FullName is the Avro full name of the table record.
func (s *Schema) FullName() string { return fullName(s.Namespace, s.Name) }

// Field returns the top-level field called name.
func (s *Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Clone returns a deep copy of s.
func (s *Schema) Clone() *Schema {
	c := &Schema{Name: s.Name, Namespace: s.Namespace, Fields: cloneFields(s.Fields)}
	return c
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Name: f.Name, Type: f.Type.Clone(), Doc: f.Doc}
	}
	return out
}

// Clone returns a deep copy of t.
func (t *Type) Clone() *Type {
	if t == nil {
		return nil
	}
	c := *t
	c.Items = t.Items.Clone()
	c.Values = t.Values.Clone()
	c.Fields = cloneFields(t.Fields)
	return &c
}

// New builds a table schema named Spark-style after tableName (record
// `<table>_record`, namespace `hoodie.<table>`) and fills in missing names of
// nested named types.
func New(tableName string, fields []Field) (*Schema, error) {
	if tableName == "" {
		return nil, fmt.Errorf("%w: empty table name", ErrInvalid)
	}
	s := &Schema{Name: tableName + "_record", Namespace: "hoodie." + tableName, Fields: fields}
	if err := s.validate(); err != nil {
		return nil, err
	}
	s.AssignNames()
	return s, nil
}

// RecordNameFor returns the Spark record name and namespace of a table.
func RecordNameFor(tableName string) (name, namespace string) {
	return tableName + "_record", "hoodie." + tableName
}

func (s *Schema) validate() error {
	if s.Name == "" {
		return fmt.Errorf("%w: record has no name", ErrInvalid)
	}
	if len(s.Fields) == 0 {
		return fmt.Errorf("%w: record %s has no fields", ErrInvalid, s.Name)
	}
	return validateFields(s.Fields, "")
}

func validateFields(fs []Field, prefix string) error {
	seen := make(map[string]struct{}, len(fs))
	for _, f := range fs {
		path := prefix + f.Name
		if f.Name == "" {
			return fmt.Errorf("%w: empty field name under %q", ErrInvalid, prefix)
		}
		if _, dup := seen[f.Name]; dup {
			return fmt.Errorf("%w: duplicate field %q", ErrInvalid, path)
		}
		seen[f.Name] = struct{}{}
		if prefix == "" && IsMetaField(f.Name) {
			return fmt.Errorf("%w: field %q is a Hudi meta field", ErrInvalid, path)
		}
		if err := validateType(f.Type, path); err != nil {
			return err
		}
	}
	return nil
}

func validateType(t *Type, path string) error {
	if t == nil {
		return fmt.Errorf("%w: field %q has no type", ErrInvalid, path)
	}
	switch t.Kind {
	case Boolean, Int, Long, Float, Double, String, Bytes, Date,
		TimestampMicros, TimestampMillis, LocalTimestampMicros, LocalTimestampMillis:
	case Fixed:
		if t.Size <= 0 {
			return fmt.Errorf("%w: field %q: fixed size %d", ErrInvalid, path, t.Size)
		}
	case Decimal:
		if t.Precision <= 0 || t.Scale < 0 || t.Scale > t.Precision {
			return fmt.Errorf("%w: field %q: decimal(%d,%d)", ErrInvalid, path, t.Precision, t.Scale)
		}
		if t.Size > 0 && MinBytesForPrecision(t.Precision) > t.Size {
			return fmt.Errorf("%w: field %q: decimal(%d,%d) does not fit fixed(%d)", ErrInvalid, path, t.Precision, t.Scale, t.Size)
		}
	case Array:
		return validateType(t.Items, path+".element")
	case Map:
		return validateType(t.Values, path+".value")
	case Record:
		if len(t.Fields) == 0 {
			return fmt.Errorf("%w: field %q: record without fields", ErrInvalid, path)
		}
		return validateFields(t.Fields, path+".")
	default:
		return fmt.Errorf("%w: field %q: kind %v", ErrInvalid, path, t.Kind)
	}
	return nil
}

// AssignNames fills empty names of nested records and fixed types the way
// Spark's SchemaConverters does (see the package doc). Existing names are kept.
func (s *Schema) AssignNames() {
	full := s.FullName()
	for _, f := range s.Fields {
		assignNames(f.Type, f.Name, full)
	}
}

// assignNames names t, the type of field fieldName inside the record whose full
// name is parent.
func assignNames(t *Type, fieldName, parent string) {
	switch t.Kind {
	case Record:
		if t.Name == "" {
			t.Name, t.Namespace = fieldName, parent
		}
		full := fullName(t.Namespace, t.Name)
		for _, f := range t.Fields {
			assignNames(f.Type, f.Name, full)
		}
	case Fixed:
		if t.Name == "" {
			t.Name, t.Namespace = "fixed", parent+"."+fieldName
		}
	case Decimal:
		if t.Size > 0 && t.Name == "" {
			t.Name, t.Namespace = "fixed", parent+"."+fieldName
		}
	case Array:
		assignNames(t.Items, fieldName, parent)
	case Map:
		assignNames(t.Values, fieldName, parent)
	}
}

func fullName(ns, name string) string {
	if ns == "" || strings.Contains(name, ".") {
		return name
	}
	return ns + "." + name
}

// MinBytesForPrecision is the smallest fixed size holding any unscaled decimal
// of the given precision in two's complement, as Spark computes it.
func MinBytesForPrecision(precision int) int {
	n := 1
	for {
		// 2^(8n-1) >= 10^precision  <=>  (8n-1)*log2(2) >= precision*log2(10)
		if float64(8*n-1) >= float64(precision)*3.321928094887362 {
			return n
		}
		n++
	}
}
