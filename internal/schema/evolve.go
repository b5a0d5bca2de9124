package schema

import "fmt"

// Evolve merges the schema of an incoming write (next) into the table schema
// (old) and returns the schema to commit. Rules, applied at every record level:
//
//   - a field in both keeps old's position; its type may widen along Avro's
//     promotions (int -> long/float/double, long -> float/double,
//     float -> double) and may become nullable; anything else is an error;
//   - a field only in next is appended after old's fields if nullable,
//     otherwise it is an error (existing rows have no value for it);
//   - a field only in old stays (readers fill it with nulls for the new rows)
//     if nullable, otherwise it is an error.
//
// Errors wrap ErrIncompatible and name the field path and the reason. old's
// record names are kept; new nested records get Spark-style names.
func Evolve(old, next *Schema) (*Schema, error) {
	if old == nil || next == nil {
		return nil, fmt.Errorf("%w: nil schema", ErrInvalid)
	}
	fields, err := mergeFields(old.Fields, next.Fields, "")
	if err != nil {
		return nil, err
	}
	merged := &Schema{Name: old.Name, Namespace: old.Namespace, Fields: fields}
	merged.AssignNames()
	return merged, nil
}

func mergeFields(old, next []Field, prefix string) ([]Field, error) {
	byName := make(map[string]int, len(next))
	for i, f := range next {
		byName[f.Name] = i
	}
	out := make([]Field, 0, len(old)+len(next))
	used := make(map[string]bool, len(old))
	for _, of := range old {
		path := prefix + of.Name
		i, ok := byName[of.Name]
		if !ok {
			if !of.Type.Nullable {
				return nil, fmt.Errorf("%w: field %q: non-null field removed", ErrIncompatible, path)
			}
			out = append(out, Field{Name: of.Name, Type: of.Type.Clone(), Doc: of.Doc})
			continue
		}
		used[of.Name] = true
		t, err := mergeType(of.Type, next[i].Type, path)
		if err != nil {
			return nil, err
		}
		doc := of.Doc
		if next[i].Doc != "" {
			doc = next[i].Doc
		}
		out = append(out, Field{Name: of.Name, Type: t, Doc: doc})
	}
	for _, nf := range next {
		if used[nf.Name] {
			continue
		}
		if !nf.Type.Nullable {
			return nil, fmt.Errorf("%w: field %q: added field is not nullable", ErrIncompatible, prefix+nf.Name)
		}
		out = append(out, Field{Name: nf.Name, Type: nf.Type.Clone(), Doc: nf.Doc})
	}
	return out, nil
}

// rank orders the numeric kinds for promotion; 0 means not numeric.
func rank(k Kind) int {
	switch k {
	case Int:
		return 1
	case Long:
		return 2
	case Float:
		return 3
	case Double:
		return 4
	}
	return 0
}

func mergeType(old, next *Type, path string) (*Type, error) {
	nullable := old.Nullable || next.Nullable
	if old.Kind != next.Kind {
		ro, rn := rank(old.Kind), rank(next.Kind)
		switch {
		case ro > 0 && rn > 0 && rn > ro:
			t := next.Clone()
			t.Nullable = nullable
			return t, nil
		case ro > 0 && rn > 0:
			return nil, fmt.Errorf("%w: field %q: type narrowing from %v to %v", ErrIncompatible, path, old.Kind, next.Kind)
		default:
			return nil, fmt.Errorf("%w: field %q: type changed from %v to %v", ErrIncompatible, path, old.Kind, next.Kind)
		}
	}
	t := old.Clone()
	t.Nullable = nullable
	switch old.Kind {
	case Fixed:
		if old.Size != next.Size {
			return nil, fmt.Errorf("%w: field %q: fixed size changed from %d to %d", ErrIncompatible, path, old.Size, next.Size)
		}
	case Decimal:
		if old.Precision != next.Precision || old.Scale != next.Scale || old.Size != next.Size {
			return nil, fmt.Errorf("%w: field %q: decimal changed from (%d,%d) to (%d,%d)",
				ErrIncompatible, path, old.Precision, old.Scale, next.Precision, next.Scale)
		}
	case Array:
		items, err := mergeType(old.Items, next.Items, path+".element")
		if err != nil {
			return nil, err
		}
		t.Items = items
	case Map:
		values, err := mergeType(old.Values, next.Values, path+".value")
		if err != nil {
			return nil, err
		}
		t.Values = values
	case Record:
		fields, err := mergeFields(old.Fields, next.Fields, path+".")
		if err != nil {
			return nil, err
		}
		t.Fields = fields
	}
	return t, nil
}
