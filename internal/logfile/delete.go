package logfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/hamba/avro/v2"

	"github.com/hoodie-lake/hoodie/internal/avrobin"
)

// DeleteRecordListSchema is Hudi 0.14/0.15's HoodieDeleteRecordList.avsc
// with the wrapper records of orderingVal (defined in Hudi's
// HoodieMetadata.avsc) inlined, so that it parses on its own. Delete block
// content version 3 is the Avro binary of one such record.
const DeleteRecordListSchema = `{"namespace":"org.apache.hudi.avro.model","type":"record","name":"HoodieDeleteRecordList",` +
	`"fields":[{"name":"deleteRecordList","type":{"type":"array","items":{"name":"HoodieDeleteRecord","type":"record",` +
	`"fields":[{"name":"recordKey","type":["null","string"],"default":null},` +
	`{"name":"partitionPath","type":["null","string"],"default":null},` +
	`{"name":"orderingVal","type":["null",` +
	`{"type":"record","name":"BooleanWrapper","fields":[{"name":"value","type":"boolean"}]},` +
	`{"type":"record","name":"IntWrapper","fields":[{"name":"value","type":"int"}]},` +
	`{"type":"record","name":"LongWrapper","fields":[{"name":"value","type":"long"}]},` +
	`{"type":"record","name":"FloatWrapper","fields":[{"name":"value","type":"float"}]},` +
	`{"type":"record","name":"DoubleWrapper","fields":[{"name":"value","type":"double"}]},` +
	`{"type":"record","name":"BytesWrapper","fields":[{"name":"value","type":"bytes"}]},` +
	`{"type":"record","name":"StringWrapper","fields":[{"name":"value","type":"string"}]},` +
	`{"type":"record","name":"DateWrapper","fields":[{"name":"value","type":"int"}]},` +
	`{"type":"record","name":"DecimalWrapper","fields":[{"name":"value","type":{"type":"bytes","logicalType":"decimal","precision":30,"scale":15}}]},` +
	`{"type":"record","name":"TimeMicrosWrapper","fields":[{"name":"value","type":{"type":"long","logicalType":"time-micros"}}]},` +
	`{"type":"record","name":"TimestampMicrosWrapper","fields":[{"name":"value","type":"long"}]}` +
	`],"default":null}]}}}]}`

// orderingVal union branches.
const (
	ordNull = iota
	ordBool
	ordInt
	ordLong
	ordFloat
	ordDouble
	ordBytes
	ordString
	ordDate
	ordDecimal
	ordTimeMicros
	ordTimestampMicros
	ordBranches
)

// encodeDeleteContent encodes a delete block's content (version 3).
func encodeDeleteContent(recs []DeleteRecord) ([]byte, error) {
	var body bytes.Buffer
	w := avro.NewWriter(&body, 4096)
	if len(recs) > 0 {
		w.WriteLong(int64(len(recs)))
		for i, r := range recs {
			w.WriteLong(1)
			w.WriteString(r.RecordKey)
			w.WriteLong(1)
			w.WriteString(r.PartitionPath)
			if err := writeOrdering(w, r.OrderingVal); err != nil {
				return nil, fmt.Errorf("%w: delete record %d (%q)", err, i, r.RecordKey)
			}
		}
	}
	w.WriteLong(0)
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("logfile: encoding delete records: %w", err)
	}
	if body.Len() > math.MaxInt32 {
		return nil, fmt.Errorf("%w: delete list of %d bytes", ErrInvalidBlock, body.Len())
	}
	out := make([]byte, 0, 8+body.Len())
	out = append(out, be32(BlockVersion)...)
	out = append(out, be32(int32(body.Len()))...)
	return append(out, body.Bytes()...), nil
}

func writeOrdering(w *avro.Writer, v any) error {
	switch v := v.(type) {
	case nil:
		w.WriteLong(ordInt)
		w.WriteInt(0)
	case nullOrdering:
		w.WriteLong(ordNull)
	case bool:
		w.WriteLong(ordBool)
		w.WriteBool(v)
	case int32:
		w.WriteLong(ordInt)
		w.WriteInt(v)
	case int64:
		w.WriteLong(ordLong)
		w.WriteLong(v)
	case float32:
		w.WriteLong(ordFloat)
		w.WriteFloat(v)
	case float64:
		w.WriteLong(ordDouble)
		w.WriteDouble(v)
	case []byte:
		w.WriteLong(ordBytes)
		w.WriteBytes(v)
	case string:
		w.WriteLong(ordString)
		w.WriteString(v)
	case Date:
		w.WriteLong(ordDate)
		w.WriteInt(int32(v))
	case Decimal:
		if v.Unscaled == nil {
			return fmt.Errorf("%w: nil Decimal ordering value", ErrInvalidBlock)
		}
		w.WriteLong(ordDecimal)
		w.WriteBytes(decimalBytes(v.Unscaled, 0))
	case TimeMicros:
		w.WriteLong(ordTimeMicros)
		w.WriteLong(int64(v))
	case TimestampMicros:
		w.WriteLong(ordTimestampMicros)
		w.WriteLong(int64(v))
	default:
		return fmt.Errorf("%w: ordering value of type %T", ErrInvalidBlock, v)
	}
	return nil
}

// decodeDeleteContent decodes a delete block's content.
func decodeDeleteContent(content []byte) ([]DeleteRecord, error) {
	if len(content) < 8 {
		return nil, corruptf("delete block content of %d bytes", len(content))
	}
	if v := int32(binary.BigEndian.Uint32(content)); v != BlockVersion {
		return nil, fmt.Errorf("%w: delete block version %d", ErrUnsupported, v)
	}
	n := int32(binary.BigEndian.Uint32(content[4:]))
	if n < 0 || int(n) != len(content)-8 {
		return nil, corruptf("delete block: %d bytes of records in %d", n, len(content)-8)
	}
	d := avrobin.NewDecoder(content[8:], ErrCorrupt)
	var out []DeleteRecord
	for c := d.BlockCount(); c > 0 && d.Err() == nil; c = d.BlockCount() {
		for range c {
			var r DeleteRecord
			if d.UnionIndex(2) == 1 {
				r.RecordKey = d.String()
			}
			if d.UnionIndex(2) == 1 {
				r.PartitionPath = d.String()
			}
			r.OrderingVal = readOrdering(d)
			if d.Err() != nil {
				break
			}
			out = append(out, r)
		}
	}
	if d.Err() != nil {
		return nil, fmt.Errorf("logfile: delete block: %w", d.Err())
	}
	if d.Len() != 0 {
		return nil, corruptf("delete block: %d trailing bytes", d.Len())
	}
	return out, nil
}

func readOrdering(d *avrobin.Decoder) any {
	switch d.UnionIndex(ordBranches) {
	case ordBool:
		return d.Bool()
	case ordInt:
		return d.Int()
	case ordLong:
		return d.Long()
	case ordFloat:
		return d.Float()
	case ordDouble:
		return d.Double()
	case ordBytes:
		return bytes.Clone(d.Bytes())
	case ordString:
		return d.String()
	case ordDate:
		return Date(d.Int())
	case ordDecimal:
		b := d.Bytes()
		v := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return Decimal{Unscaled: v}
	case ordTimeMicros:
		return TimeMicros(d.Long())
	case ordTimestampMicros:
		return TimestampMicros(d.Long())
	}
	return nil
}
