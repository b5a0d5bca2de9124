package basefile

import (
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// pkind is the shape of a column tree node.
type pkind uint8

const (
	pLeaf pkind = iota
	pStruct
	pList // children[0] is the repeated node
	pMap  // children[0] is the repeated key_value node (children: key, value)
)

// pnode is one node of the Parquet column tree with its Dremel levels. The
// writer builds it from a schema.Schema, the reader from the file's schema.
type pnode struct {
	name     string
	kind     pkind
	optional bool
	repeated bool
	def      int // definition level when this node is present
	rep      int // repetition level of this node
	children []*pnode
	// elem is the node holding a list's element values: for 2-level lists the
	// repeated node itself, for 3-level lists its single child.
	elem *pnode
	// leaf: column index, Arrow type, and the Avro type (writer only).
	leaf   int
	arrow  arrow.DataType
	avro   *schema.Type
	ptype  parquet.Type
	leaves []int // leaf column indexes under (and including) this node
	// dict: the writer dictionary-encodes this leaf (leafEncoded).
	dict bool
}

func (n *pnode) collectLeaves() []int {
	if n.kind == pLeaf {
		n.leaves = []int{n.leaf}
		return n.leaves
	}
	n.leaves = nil
	for _, c := range n.children {
		n.leaves = append(n.leaves, c.collectLeaves()...)
	}
	return n.leaves
}

// groupNode is a parquet-go group that keeps its fields in schema order
// (parquet.Group sorts them by name) and can carry the LIST/MAP annotation.
type groupNode struct {
	fields   []parquet.Field
	typ      parquet.Type
	optional bool
	repeated bool
}

var (
	plainGroupType = parquet.Group{}.Type()
	listGroupType  = parquet.List(parquet.Leaf(parquet.Int32Type)).Type()
	mapGroupType   = parquet.Map(parquet.String(), parquet.String()).Type()
)

func (g *groupNode) ID() int                            { return 0 }
func (g *groupNode) String() string                     { return "group" }
func (g *groupNode) Type() parquet.Type                 { return g.typ }
func (g *groupNode) Optional() bool                     { return g.optional }
func (g *groupNode) Repeated() bool                     { return g.repeated }
func (g *groupNode) Required() bool                     { return !g.optional && !g.repeated }
func (g *groupNode) Leaf() bool                         { return false }
func (g *groupNode) Fields() []parquet.Field            { return g.fields }
func (g *groupNode) Encoding() encoding.Encoding        { return nil }
func (g *groupNode) Compression() compress.Codec        { return nil }
func (g *groupNode) GoType() reflect.Type               { return reflect.TypeFor[any]() }
func (f *namedField) Name() string                      { return f.name }
func (f *namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

type namedField struct {
	parquet.Node
	name string
}

// metaPlain lists the meta columns that hold a distinct value on every row.
// parquet-mr tries a dictionary on the first page of every binary column and
// falls back to PLAIN for the whole chunk when it does not pay
// (FallbackValuesWriter.isCompressionSatisfying), which for unique values it
// never does; writing them PLAIN from the start gives the same file. The
// other meta columns (commit time, partition path, file name) are nearly
// constant and keep the dictionary.
var metaPlain = map[string]bool{
	schema.CommitSeqNoField: true,
	schema.RecordKeyField:   true,
}

// buildTree returns the Parquet schema (meta columns first) and the column
// tree for a table schema.
func buildTree(s *schema.Schema) (*parquet.Schema, *pnode, error) {
	root := &pnode{kind: pStruct}
	var fields []parquet.Field
	leaf := 0
	for _, m := range schema.MetaFields {
		n := &pnode{name: m, kind: pLeaf, optional: true, def: 1, leaf: leaf,
			arrow: arrow.BinaryTypes.String, avro: &schema.Type{Kind: schema.String, Nullable: true},
			ptype: parquet.String().Type()}
		leaf++
		node := parquet.Optional(leafEncoded(n, parquet.String(), !metaPlain[m]))
		root.children = append(root.children, n)
		fields = append(fields, &namedField{Node: node, name: m})
	}
	for _, f := range s.Fields {
		n, node, err := buildNode(f.Name, f.Type, 0, 0, &leaf, false)
		if err != nil {
			return nil, nil, err
		}
		root.children = append(root.children, n)
		fields = append(fields, &namedField{Node: node, name: f.Name})
	}
	root.collectLeaves()
	ps := parquet.NewSchema(s.FullName(), &groupNode{fields: fields, typ: plainGroupType})
	return ps, root, nil
}

// buildNode converts an Avro type to a Parquet node as parquet-avro does
// (old 2-level list structure). parentDef/parentRep are the parent's levels;
// repeated marks the repeated element node of a list.
func buildNode(name string, t *schema.Type, parentDef, parentRep int, leaf *int, repeated bool) (*pnode, parquet.Node, error) {
	n := &pnode{name: name, avro: t, repeated: repeated, optional: t.Nullable && !repeated, def: parentDef, rep: parentRep}
	if n.optional || n.repeated {
		n.def++
	}
	if n.repeated {
		n.rep++
	}
	wrap := func(node parquet.Node) parquet.Node {
		switch {
		case n.repeated:
			return parquet.Repeated(node)
		case n.optional:
			return parquet.Optional(node)
		}
		return parquet.Required(node)
	}
	group := func(fields []parquet.Field, typ parquet.Type) parquet.Node {
		return &groupNode{fields: fields, typ: typ, optional: n.optional, repeated: n.repeated}
	}
	switch t.Kind {
	case schema.Record:
		n.kind = pStruct
		var fields []parquet.Field
		for _, f := range t.Fields {
			c, node, err := buildNode(f.Name, f.Type, n.def, n.rep, leaf, false)
			if err != nil {
				return nil, nil, err
			}
			n.children = append(n.children, c)
			fields = append(fields, &namedField{Node: node, name: f.Name})
		}
		return n, group(fields, plainGroupType), nil
	case schema.Array:
		n.kind = pList
		c, node, err := buildNode("array", t.Items, n.def, n.rep, leaf, true)
		if err != nil {
			return nil, nil, err
		}
		n.children = []*pnode{c}
		n.elem = c
		return n, group([]parquet.Field{&namedField{Node: node, name: "array"}}, listGroupType), nil
	case schema.Map:
		n.kind = pMap
		kv := &pnode{name: "key_value", kind: pStruct, repeated: true, def: n.def + 1, rep: n.rep + 1}
		key := &pnode{name: "key", kind: pLeaf, def: kv.def, rep: kv.rep, leaf: *leaf,
			arrow: arrow.BinaryTypes.String, avro: &schema.Type{Kind: schema.String}, ptype: parquet.String().Type()}
		keyNode := leafEncoded(key, parquet.String(), true)
		*leaf++
		val, valNode, err := buildNode("value", t.Values, kv.def, kv.rep, leaf, false)
		if err != nil {
			return nil, nil, err
		}
		kv.children = []*pnode{key, val}
		n.children = []*pnode{kv}
		kvNode := &groupNode{repeated: true, typ: plainGroupType, fields: []parquet.Field{
			&namedField{Node: parquet.Required(keyNode), name: "key"},
			&namedField{Node: valNode, name: "value"},
		}}
		return n, group([]parquet.Field{&namedField{Node: kvNode, name: "key_value"}}, mapGroupType), nil
	}
	n.kind = pLeaf
	n.leaf = *leaf
	*leaf++
	n.arrow = t.ArrowType()
	var node parquet.Node
	switch t.Kind {
	case schema.Boolean:
		node = parquet.Leaf(parquet.BooleanType)
	case schema.Int:
		node = parquet.Int(32)
	case schema.Long:
		node = parquet.Int(64)
	case schema.Float:
		node = parquet.Leaf(parquet.FloatType)
	case schema.Double:
		node = parquet.Leaf(parquet.DoubleType)
	case schema.String:
		node = parquet.String()
	case schema.Bytes:
		node = parquet.Leaf(parquet.ByteArrayType)
	case schema.Fixed:
		node = parquet.Leaf(parquet.FixedLenByteArrayType(t.Size))
	case schema.Decimal:
		if t.Size > 0 {
			node = parquet.Decimal(t.Scale, t.Precision, parquet.FixedLenByteArrayType(t.Size))
		} else {
			node = parquet.Decimal(t.Scale, t.Precision, parquet.ByteArrayType)
		}
		if t.Precision > 38 {
			return nil, nil, fmt.Errorf("%w: field %q: decimal precision %d > 38", ErrUnsupported, name, t.Precision)
		}
	case schema.Date:
		node = parquet.Date()
	case schema.TimestampMicros:
		node = parquet.Timestamp(parquet.Microsecond)
	case schema.TimestampMillis:
		node = parquet.Timestamp(parquet.Millisecond)
	case schema.LocalTimestampMicros:
		node = parquet.TimestampAdjusted(parquet.Microsecond, false)
	case schema.LocalTimestampMillis:
		node = parquet.TimestampAdjusted(parquet.Millisecond, false)
	default:
		return nil, nil, fmt.Errorf("%w: field %q: %v", ErrUnsupported, name, t.Kind)
	}
	n.ptype = node.Type()
	return n, wrap(leafEncoded(n, node, true)), nil
}

// isDecimal reports a leaf annotated DECIMAL.
func isDecimal(n *pnode) bool {
	if n.ptype == nil {
		return false
	}
	lt := n.ptype.LogicalType()
	if lt == nil {
		return false
	}
	_, ok := lt.Value.(*format.DecimalType)
	return ok
}

// isBinary reports a leaf stored as BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY.
func isBinary(n *pnode) bool {
	if n.ptype == nil {
		return false
	}
	k := n.ptype.Kind()
	return k == parquet.ByteArray || k == parquet.FixedLenByteArray
}

// leafEncoded gives a leaf the value encoding parquet-mr 1.13 uses for its
// physical type with writer version PARQUET_1_0
// (DefaultV1ValuesWriterFactory): BOOLEAN and FIXED_LEN_BYTE_ARRAY are PLAIN
// only ("dictionary encoding was not enabled in PARQUET 1.0"); every other
// type starts with a dictionary and falls back to PLAIN once the dictionary
// outgrows the dictionary page size (WriterConfig DictionaryMaxBytes).
// parquet-go names the dictionary encoding RLE_DICTIONARY; mrshape.go renames
// it PLAIN_DICTIONARY, the name parquet-mr uses on v1 pages. dict false
// forces PLAIN (the all-distinct meta columns). The choice is recorded in
// n.dict for the writer's page cutting.
func leafEncoded(n *pnode, node parquet.Node, dict bool) parquet.Node {
	switch node.Type().Kind() {
	case parquet.Boolean, parquet.FixedLenByteArray:
		dict = false
	}
	n.dict = dict
	if !dict {
		return parquet.Encoded(node, &parquet.Plain)
	}
	return parquet.Encoded(node, &parquet.PlainDictionary)
}

// treeFromFile builds the column tree of a Parquet file schema, deriving Arrow
// types from the Parquet types and annotations. It understands 2-level
// (parquet-avro) and 3-level lists and MAP/MAP_KEY_VALUE groups.
func treeFromFile(s *parquet.Schema) (*pnode, error) {
	root := &pnode{kind: pStruct}
	leaf := 0
	for _, f := range s.Fields() {
		c, err := nodeFromFile(f.Name(), f, 0, 0, &leaf, f.Name())
		if err != nil {
			return nil, err
		}
		root.children = append(root.children, c)
	}
	root.collectLeaves()
	return root, nil
}

func isList(node parquet.Node) bool {
	if lt := node.Type().LogicalType(); lt != nil {
		if _, ok := lt.Value.(*format.ListType); ok {
			return true
		}
	}
	ct := node.Type().ConvertedType()
	return ct != nil && *ct == deprecated.List
}

func isMap(node parquet.Node) bool {
	if lt := node.Type().LogicalType(); lt != nil {
		if _, ok := lt.Value.(*format.MapType); ok {
			return true
		}
	}
	ct := node.Type().ConvertedType()
	return ct != nil && (*ct == deprecated.Map || *ct == deprecated.MapKeyValue)
}

func nodeFromFile(name string, node parquet.Node, parentDef, parentRep int, leaf *int, path string) (*pnode, error) {
	n := &pnode{name: name, optional: node.Optional(), repeated: node.Repeated(), def: parentDef, rep: parentRep}
	if n.optional || n.repeated {
		n.def++
	}
	if n.repeated {
		n.rep++
	}
	if node.Leaf() {
		if n.repeated && !isElementContext(path) {
			return nil, fmt.Errorf("%w: column %q: repeated field outside a LIST", ErrUnsupported, path)
		}
		n.kind = pLeaf
		n.leaf = *leaf
		*leaf++
		n.ptype = node.Type()
		dt, err := arrowTypeOfLeaf(node.Type())
		if err != nil {
			return nil, fmt.Errorf("%w: column %q: %w", ErrUnsupported, path, err)
		}
		n.arrow = dt
		return n, nil
	}
	fields := node.Fields()
	switch {
	case isList(node) && len(fields) == 1 && fields[0].Repeated():
		n.kind = pList
		r := fields[0]
		rn, err := nodeFromFile(r.Name(), r, n.def, n.rep, leaf, elementPath(path))
		if err != nil {
			return nil, err
		}
		n.children = []*pnode{rn}
		// Parquet's backward-compatibility rules for the element.
		if r.Leaf() || len(r.Fields()) > 1 || r.Name() == "array" || r.Name() == name+"_tuple" {
			n.elem = rn
		} else {
			n.elem = rn.children[0]
			rn.elem = n.elem
		}
		return n, nil
	case isMap(node) && len(fields) == 1 && fields[0].Repeated() && len(fields[0].Fields()) == 2:
		n.kind = pMap
		kv, err := nodeFromFile(fields[0].Name(), fields[0], n.def, n.rep, leaf, elementPath(path))
		if err != nil {
			return nil, err
		}
		if kv.kind != pStruct || kv.children[0].kind != pLeaf {
			return nil, fmt.Errorf("%w: column %q: map key is not a primitive", ErrUnsupported, path)
		}
		n.children = []*pnode{kv}
		return n, nil
	}
	if n.repeated && !isElementContext(path) {
		return nil, fmt.Errorf("%w: column %q: repeated group outside a LIST", ErrUnsupported, path)
	}
	n.kind = pStruct
	for _, f := range fields {
		c, err := nodeFromFile(f.Name(), f, n.def, n.rep, leaf, path+"."+f.Name())
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	return n, nil
}

// elementPath marks a path as the repeated child of a LIST/MAP (the only place
// repeated fields are accepted).
func elementPath(path string) string { return path + "\x00" }

func isElementContext(path string) bool { return len(path) > 0 && path[len(path)-1] == 0 }

// arrowType returns the Arrow type of a node of the tree.
func (n *pnode) arrowType() arrow.DataType {
	switch n.kind {
	case pLeaf:
		return n.arrow
	case pStruct:
		fs := make([]arrow.Field, len(n.children))
		for i, c := range n.children {
			fs[i] = arrow.Field{Name: c.name, Type: c.arrowType(), Nullable: c.optional}
		}
		return arrow.StructOf(fs...)
	case pList:
		e := n.elem
		return arrow.ListOfField(arrow.Field{Name: schema.ListElementName, Type: e.arrowType(), Nullable: e.optional})
	case pMap:
		kv := n.children[0]
		return arrow.MapOfFields(
			arrow.Field{Name: "key", Type: kv.children[0].arrowType()},
			arrow.Field{Name: "value", Type: kv.children[1].arrowType(), Nullable: kv.children[1].optional})
	}
	return arrow.Null
}

func arrowTypeOfLeaf(t parquet.Type) (arrow.DataType, error) {
	var lv format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		lv = lt.Value
	}
	ct := deprecated.ConvertedType(-1)
	if c := t.ConvertedType(); c != nil {
		ct = *c
	}
	if d, ok := lv.(*format.DecimalType); ok {
		return &arrow.Decimal128Type{Precision: d.Precision, Scale: d.Scale}, nil
	}
	switch t.Kind() {
	case parquet.Boolean:
		return arrow.FixedWidthTypes.Boolean, nil
	case parquet.Int32:
		if _, ok := lv.(*format.DateType); ok || ct == deprecated.Date {
			return arrow.FixedWidthTypes.Date32, nil
		}
		return arrow.PrimitiveTypes.Int32, nil
	case parquet.Int64:
		if ts, ok := lv.(*format.TimestampType); ok {
			tz := ""
			if ts.IsAdjustedToUTC {
				tz = "UTC"
			}
			unit := arrow.Microsecond
			switch ts.Unit.Value.(type) {
			case *format.MilliSeconds:
				unit = arrow.Millisecond
			case *format.NanoSeconds:
				unit = arrow.Nanosecond
			}
			return &arrow.TimestampType{Unit: unit, TimeZone: tz}, nil
		}
		switch ct {
		case deprecated.TimestampMillis:
			return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, nil
		case deprecated.TimestampMicros:
			return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
		}
		return arrow.PrimitiveTypes.Int64, nil
	case parquet.Int96:
		// Legacy Spark/Impala timestamps.
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, nil
	case parquet.Float:
		return arrow.PrimitiveTypes.Float32, nil
	case parquet.Double:
		return arrow.PrimitiveTypes.Float64, nil
	case parquet.ByteArray:
		switch lv.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
			return arrow.BinaryTypes.String, nil
		}
		if ct == deprecated.UTF8 || ct == deprecated.Enum || ct == deprecated.Json {
			return arrow.BinaryTypes.String, nil
		}
		return arrow.BinaryTypes.Binary, nil
	case parquet.FixedLenByteArray:
		return &arrow.FixedSizeBinaryType{ByteWidth: t.Length()}, nil
	}
	return nil, fmt.Errorf("parquet type %v", t)
}
