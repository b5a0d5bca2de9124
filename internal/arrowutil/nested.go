package arrowutil

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
)

// ErrNullInNonNullable reports a cast to a nested type whose field (list
// element, map key or value, struct field) is not nullable, of data that
// holds a null there.
var ErrNullInNonNullable = errors.New("arrowutil: null in a non-nullable field")

// castData converts d to type to. Nested arrays whose source and target are
// the same kind (list, large list, fixed-size list of the same size, map,
// struct) are rebuilt in place: the same buffers (validity, offsets) with
// the target type and recursively converted children, so nullability that
// differs only in the type (Spark's Parquet says required where the Avro
// table schema says nullable) costs no copy. Widening (non-null → nullable)
// is always accepted; narrowing (nullable → non-null) only when no
// referenced value under a valid parent is null (the check is conservative
// for sliced parents: it may look at child values a slice does not reach).
// Leaves, and nested kinds that change (list → large list, ...), go through
// compute casts (castLeaf). The result must be released.
func castData(d arrow.ArrayData, to arrow.DataType, path string) (arrow.ArrayData, error) {
	if arrow.TypeEqual(d.DataType(), to) {
		if d.DataType() == to || arrow.TypeEqual(d.DataType(), to, arrow.CheckMetadata()) {
			d.Retain()
			return d, nil
		}
		// Same type but for field metadata: nested types are relabelled
		// below, leaves kept.
	}
	switch from := d.DataType().(type) {
	case *arrow.MapType:
		if tt, ok := to.(*arrow.MapType); ok {
			return castMap(d, from, tt, path)
		}
	case *arrow.ListType:
		if tt, ok := to.(*arrow.ListType); ok {
			return castList(d, from.ElemField(), tt.ElemField(), to, path)
		}
	case *arrow.LargeListType:
		if tt, ok := to.(*arrow.LargeListType); ok {
			return castList(d, from.ElemField(), tt.ElemField(), to, path)
		}
	case *arrow.FixedSizeListType:
		if tt, ok := to.(*arrow.FixedSizeListType); ok && tt.Len() == from.Len() {
			return castList(d, from.ElemField(), tt.ElemField(), to, path)
		}
	case *arrow.StructType:
		if tt, ok := to.(*arrow.StructType); ok {
			return castStruct(d, from, tt, to, path, false)
		}
	}
	if arrow.TypeEqual(d.DataType(), to) {
		d.Retain()
		return d, nil
	}
	arr := array.MakeFromData(d)
	defer arr.Release()
	out, err := castLeaf(arr, to)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	defer out.Release()
	od := out.Data()
	od.Retain()
	return od, nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// castList converts a list, large list or fixed-size list: same validity and
// offsets, child converted to the target element type.
func castList(d arrow.ArrayData, fromElem, toElem arrow.Field, to arrow.DataType, path string) (arrow.ArrayData, error) {
	epath := joinPath(path, toElem.Name)
	child := d.Children()[0]
	if fromElem.Nullable && !toElem.Nullable && listHasNullElement(d, child) {
		return nil, fmt.Errorf("%w: %s", ErrNullInNonNullable, epath)
	}
	c, err := castData(child, toElem.Type, epath)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	return array.NewData(to, d.Len(), d.Buffers(), []arrow.ArrayData{c}, d.NullN(), d.Offset()), nil
}

// castMap converts a map: same validity and offsets, entries converted
// position by position (key, value), whatever the entry field names.
func castMap(d arrow.ArrayData, from, to *arrow.MapType, path string) (arrow.ArrayData, error) {
	entries := d.Children()[0]
	c, err := castStruct(entries, from.Elem().(*arrow.StructType), to.Elem().(*arrow.StructType), to.Elem().(*arrow.StructType), path, true)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	return array.NewData(to, d.Len(), d.Buffers(), []arrow.ArrayData{c}, d.NullN(), d.Offset()), nil
}

// castStruct converts a struct: same validity, each target field taken from
// the source field of the same name (in order, as compute's struct cast
// matches them; by position for map entries) and converted.
func castStruct(d arrow.ArrayData, from, to *arrow.StructType, toType arrow.DataType, path string, byPosition bool) (arrow.ArrayData, error) {
	sel := make([]int, to.NumFields())
	if byPosition {
		if from.NumFields() != to.NumFields() {
			return nil, fmt.Errorf("%w: %s: cannot convert %s to %s", arrow.ErrType, path, from, to)
		}
		for i := range sel {
			sel[i] = i
		}
	} else {
		o := 0
		for i := 0; i < from.NumFields() && o < to.NumFields(); i++ {
			if from.Field(i).Name == to.Field(o).Name {
				sel[o] = i
				o++
			}
		}
		if o < to.NumFields() {
			return nil, fmt.Errorf("%w: struct fields don't match or are in the wrong order: Input: %s Output: %s", arrow.ErrType, from, to)
		}
	}
	kids := make([]arrow.ArrayData, 0, len(sel))
	defer func() {
		for _, k := range kids {
			k.Release()
		}
	}()
	for o, i := range sel {
		ff, tf := from.Field(i), to.Field(o)
		fpath := joinPath(path, tf.Name)
		child := d.Children()[i]
		if ff.Nullable && !tf.Nullable && structHasNullField(d, child) {
			return nil, fmt.Errorf("%w: %s", ErrNullInNonNullable, fpath)
		}
		c, err := castData(child, tf.Type, fpath)
		if err != nil {
			return nil, err
		}
		kids = append(kids, c)
	}
	return array.NewData(toType, d.Len(), d.Buffers(), kids, d.NullN(), d.Offset()), nil
}

// isValid reports whether logical index i of d is valid.
func isValid(d arrow.ArrayData, i int) bool {
	if d.NullN() == 0 {
		return true
	}
	bufs := d.Buffers()
	if len(bufs) == 0 || bufs[0] == nil {
		return false // nulls but no bitmap: all null (arrow.NULL)
	}
	return bitutil.BitIsSet(bufs[0].Bytes(), d.Offset()+i)
}

// hasNullIn reports whether d has a null among logical indices [start, end).
func hasNullIn(d arrow.ArrayData, start, end int) bool {
	if end <= start || d.NullN() == 0 {
		return false
	}
	bufs := d.Buffers()
	if len(bufs) == 0 || bufs[0] == nil {
		return true
	}
	return bitutil.CountSetBits(bufs[0].Bytes(), d.Offset()+start, end-start) < end-start
}

// structHasNullField reports whether child (a field of struct d) is null in
// a row where the struct is valid.
func structHasNullField(d, child arrow.ArrayData) bool {
	off, n := d.Offset(), d.Len()
	if !hasNullIn(child, off, off+n) {
		return false
	}
	for i := 0; i < n; i++ {
		if isValid(d, i) && !isValid(child, off+i) {
			return true
		}
	}
	return false
}

// listHasNullElement reports whether a valid list of d holds a null element.
func listHasNullElement(d, child arrow.ArrayData) bool {
	if child.NullN() == 0 {
		return false
	}
	off, n := d.Offset(), d.Len()
	bounds := func(i int) (int, int) {
		switch t := d.DataType().(type) {
		case *arrow.FixedSizeListType:
			k := int(t.Len())
			return (off + i) * k, (off + i + 1) * k
		case *arrow.LargeListType:
			o := arrow.Int64Traits.CastFromBytes(d.Buffers()[1].Bytes())
			return int(o[off+i]), int(o[off+i+1])
		default:
			o := arrow.Int32Traits.CastFromBytes(d.Buffers()[1].Bytes())
			return int(o[off+i]), int(o[off+i+1])
		}
	}
	for i := 0; i < n; i++ {
		if !isValid(d, i) {
			continue
		}
		if s, e := bounds(i); hasNullIn(child, s, e) {
			return true
		}
	}
	return false
}
