package schema

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// ListElementName is the name of the element field of Arrow lists built by
// ToArrow.
const ListElementName = "element"

// FromArrow converts an Arrow schema of data columns into a table schema named
// after tableName (see the package doc for the type mapping). Nullable Arrow
// fields become ["null", T] unions. Meta fields must not be present.
func FromArrow(s *arrow.Schema, tableName string) (*Schema, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil Arrow schema", ErrInvalid)
	}
	fields := make([]Field, 0, s.NumFields())
	for _, af := range s.Fields() {
		t, err := typeFromArrow(af.Type, af.Nullable, af.Name)
		if err != nil {
			return nil, err
		}
		fields = append(fields, Field{Name: af.Name, Type: t})
	}
	return New(tableName, fields)
}

func typeFromArrow(dt arrow.DataType, nullable bool, path string) (*Type, error) {
	t := &Type{Nullable: nullable}
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		t.Kind = Boolean
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Uint8Type, *arrow.Uint16Type:
		t.Kind = Int
	case *arrow.Int64Type, *arrow.Uint32Type:
		t.Kind = Long
	case *arrow.Float32Type:
		t.Kind = Float
	case *arrow.Float64Type:
		t.Kind = Double
	case *arrow.StringType, *arrow.LargeStringType:
		t.Kind = String
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		t.Kind = Bytes
	case *arrow.FixedSizeBinaryType:
		t.Kind, t.Size = Fixed, dt.ByteWidth
	case *arrow.Decimal128Type:
		t.Kind, t.Precision, t.Scale = Decimal, int(dt.Precision), int(dt.Scale)
		if t.Scale < 0 || t.Scale > t.Precision {
			return nil, fmt.Errorf("%w: field %q: %v", ErrUnsupportedType, path, dt)
		}
		t.Size = MinBytesForPrecision(t.Precision)
	case *arrow.Date32Type:
		t.Kind = Date
	case *arrow.TimestampType:
		if dt.Unit == arrow.Millisecond {
			t.Kind = TimestampMillis
		} else {
			t.Kind = TimestampMicros
		}
	case *arrow.ListType:
		items, err := typeFromArrow(dt.Elem(), dt.ElemField().Nullable, path+".element")
		if err != nil {
			return nil, err
		}
		t.Kind, t.Items = Array, items
	case *arrow.LargeListType:
		items, err := typeFromArrow(dt.Elem(), dt.ElemField().Nullable, path+".element")
		if err != nil {
			return nil, err
		}
		t.Kind, t.Items = Array, items
	case *arrow.MapType:
		switch dt.KeyType().(type) {
		case *arrow.StringType, *arrow.LargeStringType:
		default:
			return nil, fmt.Errorf("%w: field %q: map key %v (Avro maps have string keys)", ErrUnsupportedType, path, dt.KeyType())
		}
		values, err := typeFromArrow(dt.ItemType(), dt.ItemField().Nullable, path+".value")
		if err != nil {
			return nil, err
		}
		t.Kind, t.Values = Map, values
	case *arrow.StructType:
		t.Kind = Record
		if dt.NumFields() == 0 {
			return nil, fmt.Errorf("%w: field %q: empty struct", ErrUnsupportedType, path)
		}
		for _, f := range dt.Fields() {
			ft, err := typeFromArrow(f.Type, f.Nullable, path+"."+f.Name)
			if err != nil {
				return nil, err
			}
			t.Fields = append(t.Fields, Field{Name: f.Name, Type: ft})
		}
	default:
		return nil, fmt.Errorf("%w: field %q: Arrow type %v", ErrUnsupportedType, path, dt)
	}
	return t, nil
}

// ToArrow returns the Arrow schema of the data columns.
func (s *Schema) ToArrow() *arrow.Schema {
	return arrow.NewSchema(arrowFields(s.Fields), nil)
}

// ToArrowWithMeta returns the Arrow schema with the five meta fields (nullable
// strings) first, as base files hold them.
func (s *Schema) ToArrowWithMeta() *arrow.Schema {
	fs := make([]arrow.Field, 0, len(MetaFields)+len(s.Fields))
	for _, m := range MetaFields {
		fs = append(fs, arrow.Field{Name: m, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	return arrow.NewSchema(append(fs, arrowFields(s.Fields)...), nil)
}

func arrowFields(fs []Field) []arrow.Field {
	out := make([]arrow.Field, len(fs))
	for i, f := range fs {
		out[i] = arrow.Field{Name: f.Name, Type: f.Type.ArrowType(), Nullable: f.Type.Nullable}
	}
	return out
}

// ArrowType returns the Arrow type of t (nullability is the caller's field's).
func (t *Type) ArrowType() arrow.DataType {
	switch t.Kind {
	case Boolean:
		return arrow.FixedWidthTypes.Boolean
	case Int:
		return arrow.PrimitiveTypes.Int32
	case Long:
		return arrow.PrimitiveTypes.Int64
	case Float:
		return arrow.PrimitiveTypes.Float32
	case Double:
		return arrow.PrimitiveTypes.Float64
	case String:
		return arrow.BinaryTypes.String
	case Bytes:
		return arrow.BinaryTypes.Binary
	case Fixed:
		return &arrow.FixedSizeBinaryType{ByteWidth: t.Size}
	case Decimal:
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}
	case Date:
		return arrow.FixedWidthTypes.Date32
	case TimestampMicros:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case TimestampMillis:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	case LocalTimestampMicros:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case LocalTimestampMillis:
		return &arrow.TimestampType{Unit: arrow.Millisecond}
	case Array:
		return arrow.ListOfField(arrow.Field{Name: ListElementName, Type: t.Items.ArrowType(), Nullable: t.Items.Nullable})
	case Map:
		return arrow.MapOfFields(
			arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
			arrow.Field{Name: "value", Type: t.Values.ArrowType(), Nullable: t.Values.Nullable})
	case Record:
		return arrow.StructOf(arrowFields(t.Fields)...)
	}
	return arrow.Null
}
