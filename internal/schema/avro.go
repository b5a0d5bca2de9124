package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ParseAvro parses an Avro record schema (JSON), as found in
// hoodie.table.create.schema, a commit's extraMetadata.schema, a log block
// header or parquet.avro.schema. Unions must be [T] or a two-branch union with
// "null" in either position. Hudi meta fields, if present, are dropped (the
// model holds data columns only). Enums are read as strings.
func ParseAvro(data []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p := &avroParser{named: map[string]*Type{}}
	t, err := p.parse(raw, "", "")
	if err != nil {
		return nil, err
	}
	if t.Kind != Record || t.Nullable {
		return nil, fmt.Errorf("%w: top-level type is %v, want a record", ErrInvalid, t.Kind)
	}
	s := &Schema{Name: t.Name, Namespace: t.Namespace}
	if i := strings.LastIndexByte(s.Name, '.'); i >= 0 {
		s.Namespace, s.Name = s.Name[:i], s.Name[i+1:]
	}
	for _, f := range t.Fields {
		if IsMetaField(f.Name) {
			continue
		}
		s.Fields = append(s.Fields, f)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

type avroParser struct {
	named map[string]*Type
}

func (p *avroParser) parse(raw any, ns, path string) (*Type, error) {
	switch v := raw.(type) {
	case string:
		return p.parseName(v, ns, path)
	case []any:
		return p.parseUnion(v, ns, path)
	case map[string]any:
		return p.parseObject(v, ns, path)
	default:
		return nil, fmt.Errorf("%w: field %q: unexpected schema JSON %T", ErrInvalid, path, raw)
	}
}

func (p *avroParser) parseName(name, ns, path string) (*Type, error) {
	switch name {
	case "boolean":
		return &Type{Kind: Boolean}, nil
	case "int":
		return &Type{Kind: Int}, nil
	case "long":
		return &Type{Kind: Long}, nil
	case "float":
		return &Type{Kind: Float}, nil
	case "double":
		return &Type{Kind: Double}, nil
	case "string":
		return &Type{Kind: String}, nil
	case "bytes":
		return &Type{Kind: Bytes}, nil
	case "null":
		return nil, fmt.Errorf("%w: field %q: bare null type", ErrUnsupportedType, path)
	}
	t, ok := p.named[fullName(ns, name)]
	if !ok {
		t, ok = p.named[name]
	}
	if ok {
		c := t.Clone()
		c.Nullable = false
		return c, nil
	}
	return nil, fmt.Errorf("%w: field %q: unknown type %q", ErrInvalid, path, name)
}

func (p *avroParser) parseUnion(branches []any, ns, path string) (*Type, error) {
	var (
		t       *Type
		hasNull bool
	)
	for _, b := range branches {
		if s, ok := b.(string); ok && s == "null" {
			if hasNull {
				return nil, fmt.Errorf("%w: field %q: duplicate null in union", ErrInvalid, path)
			}
			hasNull = true
			continue
		}
		if t != nil {
			return nil, fmt.Errorf("%w: field %q: union of several non-null types", ErrUnsupportedType, path)
		}
		var err error
		if t, err = p.parse(b, ns, path); err != nil {
			return nil, err
		}
	}
	if t == nil {
		return nil, fmt.Errorf("%w: field %q: union without a non-null type", ErrUnsupportedType, path)
	}
	if t.Nullable {
		return nil, fmt.Errorf("%w: field %q: nested union", ErrInvalid, path)
	}
	t.Nullable = hasNull
	return t, nil
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func num(m map[string]any, key string) (int, bool) {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		return 0, false
	}
	return int(i), true
}

func (p *avroParser) parseObject(m map[string]any, ns, path string) (*Type, error) {
	typ, ok := m["type"]
	if !ok {
		return nil, fmt.Errorf("%w: field %q: object without type", ErrInvalid, path)
	}
	ts, ok := typ.(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: a wrapped schema.
		return p.parse(typ, ns, path)
	}
	logical := str(m, "logicalType")
	switch ts {
	case "record", "error":
		return p.parseRecord(m, ns, path)
	case "enum":
		return &Type{Kind: String}, nil
	case "array":
		items, err := p.parse(m["items"], ns, path+".element")
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Array, Items: items}, nil
	case "map":
		values, err := p.parse(m["values"], ns, path+".value")
		if err != nil {
			return nil, err
		}
		return &Type{Kind: Map, Values: values}, nil
	case "fixed":
		size, ok := num(m, "size")
		if !ok || size <= 0 {
			return nil, fmt.Errorf("%w: field %q: fixed without size", ErrInvalid, path)
		}
		t := &Type{Kind: Fixed, Size: size}
		t.Name, t.Namespace = splitName(str(m, "name"), str(m, "namespace"), ns)
		if logical == "decimal" {
			if err := parseDecimal(t, m, path); err != nil {
				return nil, err
			}
		}
		if t.Name != "" {
			p.named[fullName(t.Namespace, t.Name)] = t
		}
		return t, nil
	case "int":
		switch logical {
		case "date":
			return &Type{Kind: Date}, nil
		case "time-millis":
			return nil, fmt.Errorf("%w: field %q: int %s", ErrUnsupportedType, path, logical)
		}
		return &Type{Kind: Int}, nil
	case "long":
		switch logical {
		case "timestamp-micros":
			return &Type{Kind: TimestampMicros}, nil
		case "timestamp-millis":
			return &Type{Kind: TimestampMillis}, nil
		case "local-timestamp-micros":
			return &Type{Kind: LocalTimestampMicros}, nil
		case "local-timestamp-millis":
			return &Type{Kind: LocalTimestampMillis}, nil
		case "time-micros":
			return nil, fmt.Errorf("%w: field %q: long %s", ErrUnsupportedType, path, logical)
		}
		return &Type{Kind: Long}, nil
	case "bytes":
		t := &Type{Kind: Bytes}
		if logical == "decimal" {
			if err := parseDecimal(t, m, path); err != nil {
				return nil, err
			}
		}
		return t, nil
	default:
		// Primitive written as an object ({"type":"string"}), possibly with an
		// unknown logical type that readers ignore.
		return p.parseName(ts, ns, path)
	}
}

func parseDecimal(t *Type, m map[string]any, path string) error {
	prec, ok := num(m, "precision")
	if !ok {
		return fmt.Errorf("%w: field %q: decimal without precision", ErrInvalid, path)
	}
	scale, _ := num(m, "scale")
	t.Kind, t.Precision, t.Scale = Decimal, prec, scale
	return nil
}

// splitName resolves an Avro name against its explicit and enclosing
// namespaces.
func splitName(name, explicitNS, enclosingNS string) (string, string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:], name[:i]
	}
	if explicitNS != "" {
		return name, explicitNS
	}
	return name, enclosingNS
}

func (p *avroParser) parseRecord(m map[string]any, ns, path string) (*Type, error) {
	t := &Type{Kind: Record}
	t.Name, t.Namespace = splitName(str(m, "name"), str(m, "namespace"), ns)
	rawFields, ok := m["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: record %q without fields", ErrInvalid, t.Name)
	}
	// Register before the fields so recursive references resolve (and then fail
	// in validation rather than loop).
	p.named[fullName(t.Namespace, t.Name)] = t
	for _, rf := range rawFields {
		fm, ok := rf.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: record %q: field is %T", ErrInvalid, t.Name, rf)
		}
		name := str(fm, "name")
		fpath := name
		if path != "" {
			fpath = path + "." + name
		}
		ft, err := p.parse(fm["type"], t.Namespace, fpath)
		if err != nil {
			return nil, err
		}
		t.Fields = append(t.Fields, Field{Name: name, Type: ft, Doc: str(fm, "doc")})
	}
	return t, nil
}

// AvroJSON returns the data schema (no meta fields) as Spark/Hudi write it in
// commit metadata: nullable types are ["null", T] with "default": null.
func (s *Schema) AvroJSON() string {
	return s.avroJSON(false)
}

// WithMetaFieldsJSON returns the schema with the five Hudi meta fields first
// (each ["null","string"], doc "", default null), as written to
// parquet.avro.schema and log block headers.
func (s *Schema) WithMetaFieldsJSON() string {
	return s.avroJSON(true)
}

func (s *Schema) avroJSON(meta bool) string {
	var b bytes.Buffer
	e := avroEmitter{b: &b, defined: map[string]bool{}}
	b.WriteString(`{"type":"record","name":`)
	e.str(s.Name)
	if s.Namespace != "" {
		b.WriteString(`,"namespace":`)
		e.str(s.Namespace)
	}
	b.WriteString(`,"fields":[`)
	e.defined[s.FullName()] = true
	first := true
	if meta {
		for _, m := range MetaFields {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(`{"name":`)
			e.str(m)
			b.WriteString(`,"type":["null","string"],"doc":"","default":null}`)
		}
	}
	for _, f := range s.Fields {
		if !first {
			b.WriteByte(',')
		}
		first = false
		e.field(f, s.FullName())
	}
	b.WriteString(`]}`)
	return b.String()
}

type avroEmitter struct {
	b       *bytes.Buffer
	defined map[string]bool
}

func (e *avroEmitter) str(s string) {
	q, _ := json.Marshal(s) // marshalling a string cannot fail
	e.b.Write(q)
}

func (e *avroEmitter) field(f Field, ns string) {
	e.b.WriteString(`{"name":`)
	e.str(f.Name)
	e.b.WriteString(`,"type":`)
	e.typ(f.Type, ns)
	if f.Doc != "" {
		e.b.WriteString(`,"doc":`)
		e.str(f.Doc)
	}
	if f.Type.Nullable {
		e.b.WriteString(`,"default":null`)
	}
	e.b.WriteByte('}')
}

func (e *avroEmitter) typ(t *Type, ns string) {
	if t.Nullable {
		e.b.WriteString(`["null",`)
	}
	e.bare(t, ns)
	if t.Nullable {
		e.b.WriteByte(']')
	}
}

// named writes the name/namespace of a named type, or a reference to it when
// it was already defined; it reports whether the caller must write the body.
func (e *avroEmitter) named(kind string, t *Type) bool {
	full := fullName(t.Namespace, t.Name)
	if e.defined[full] {
		e.str(full)
		return false
	}
	e.defined[full] = true
	e.b.WriteString(`{"type":"` + kind + `","name":`)
	e.str(t.Name)
	if t.Namespace != "" {
		e.b.WriteString(`,"namespace":`)
		e.str(t.Namespace)
	}
	return true
}

func (e *avroEmitter) bare(t *Type, ns string) {
	b := e.b
	switch t.Kind {
	case Boolean, Int, Long, Float, Double, String, Bytes:
		b.WriteString(`"` + t.Kind.String() + `"`)
	case Date:
		b.WriteString(`{"type":"int","logicalType":"date"}`)
	case TimestampMicros, TimestampMillis, LocalTimestampMicros, LocalTimestampMillis:
		b.WriteString(`{"type":"long","logicalType":"` + t.Kind.String() + `"}`)
	case Fixed:
		if e.named("fixed", t) {
			fmt.Fprintf(b, `,"size":%d}`, t.Size)
		}
	case Decimal:
		if t.Size == 0 {
			fmt.Fprintf(b, `{"type":"bytes","logicalType":"decimal","precision":%d,"scale":%d}`, t.Precision, t.Scale)
			return
		}
		if e.named("fixed", t) {
			fmt.Fprintf(b, `,"size":%d,"logicalType":"decimal","precision":%d,"scale":%d}`, t.Size, t.Precision, t.Scale)
		}
	case Array:
		b.WriteString(`{"type":"array","items":`)
		e.typ(t.Items, ns)
		b.WriteByte('}')
	case Map:
		b.WriteString(`{"type":"map","values":`)
		e.typ(t.Values, ns)
		b.WriteByte('}')
	case Record:
		if !e.named("record", t) {
			return
		}
		b.WriteString(`,"fields":[`)
		full := fullName(t.Namespace, t.Name)
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			e.field(f, full)
		}
		b.WriteString(`]}`)
	}
}
