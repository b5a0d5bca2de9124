package keygen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	// Time zones must resolve on machines without a zoneinfo database.
	_ "time/tzdata"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/hoodie-lake/hoodie/internal/hivepath"
)

// Timestamp types (hoodie.keygen.timebased.timestamp.type), spelled as
// Hudi's TimestampBasedAvroKeyGenerator.TimestampType. Hudi 1.0's
// EPOCHMICROSECONDS is not in 0.15 (whose writers fail on it): SCALAR
// with scalar time unit MICROSECONDS is the same.
const (
	// TimestampUnix: numbers are epoch seconds.
	TimestampUnix = "UNIX_TIMESTAMP"
	// TimestampEpochMillis: numbers are epoch milliseconds.
	TimestampEpochMillis = "EPOCHMILLISECONDS"
	// TimestampScalar: numbers count TimestampOptions.ScalarTimeUnit.
	TimestampScalar = "SCALAR"
	// TimestampDateString: strings parsed with the input date formats.
	TimestampDateString = "DATE_STRING"
	// TimestampMixed behaves as TimestampDateString (Hudi 0.15 parses
	// strings only; numbers fail).
	TimestampMixed = "MIXED"
)

// DefaultDateTimeParser is the only hoodie.keygen.datetime.parser.class
// hoodie implements (Hudi's default).
const DefaultDateTimeParser = "org.apache.hudi.keygen.parser.HoodieDateTimeParser"

// TimestampOptions configures the TimestampBased kind with the values of
// Hudi's hoodie.keygen.timebased.* properties, as stored (strings; "" =
// absent). Type and OutputDateFormat are required.
type TimestampOptions struct {
	// Type is hoodie.keygen.timebased.timestamp.type: UNIX_TIMESTAMP,
	// EPOCHMILLISECONDS, SCALAR, DATE_STRING or MIXED.
	Type string
	// ScalarTimeUnit is ...timestamp.scalar.time.unit for SCALAR: a Java
	// TimeUnit name (NANOSECONDS .. DAYS, any case); default SECONDS.
	ScalarTimeUnit string
	// InputDateFormat is ...input.dateformat, for DATE_STRING and MIXED:
	// Joda patterns separated by InputDateFormatListDelimiterRegex; the
	// first that matches a whole value parses it.
	InputDateFormat string
	// InputDateFormatListDelimiterRegex is
	// ...input.dateformat.list.delimiter.regex; default ",".
	InputDateFormatListDelimiterRegex string
	// InputTimezone is ...input.timezone: the zone of date strings without
	// an offset.
	InputTimezone string
	// OutputDateFormat is ...output.dateformat, the Joda pattern of the
	// partition path ("yyyy-MM-dd", "yyyy/MM/dd", "yyyyMMddHH").
	OutputDateFormat string
	// OutputTimezone is ...output.timezone: the zone the partition path is
	// printed in.
	OutputTimezone string
	// Timezone is hoodie.keygen.timebased.timezone; when set it is both
	// the input and the output zone and the other two are ignored.
	Timezone string
	// DateTimeParser is hoodie.keygen.datetime.parser.class; "" or
	// DefaultDateTimeParser.
	DateTimeParser string
}

// timeUnit is a java.util.concurrent.TimeUnit, as its length in
// nanoseconds.
type timeUnit int64

var timeUnits = map[string]timeUnit{
	"NANOSECONDS":  1,
	"MICROSECONDS": 1e3,
	"MILLISECONDS": 1e6,
	"SECONDS":      1e9,
	"MINUTES":      60e9,
	"HOURS":        3600e9,
	"DAYS":         86400e9,
}

// timestampGen is compiled TimestampOptions.
type timestampGen struct {
	opts TimestampOptions
	// unit of numeric values; 0 for DATE_STRING and MIXED.
	unit timeUnit
	// inputs parse strings (DATE_STRING, MIXED); first formats the
	// default value of a null string.
	inputs []*jodaPattern
	first  *jodaPattern
	output *jodaPattern
	// inZone and outZone are nil when not configured.
	inZone, outZone *time.Location
}

// Validate checks the options as New would, without a schema.
func (o TimestampOptions) Validate() error {
	_, err := compileTimestamp(o)
	return err
}

// compileTimestamp checks and compiles the options.
func compileTimestamp(o TimestampOptions) (*timestampGen, error) {
	ts := &timestampGen{opts: o}
	switch o.DateTimeParser {
	case "", DefaultDateTimeParser:
	default:
		return nil, fmt.Errorf("keygen: date time parser %q is not supported (only %s)", o.DateTimeParser, DefaultDateTimeParser)
	}
	switch o.Type {
	case TimestampUnix:
		ts.unit = timeUnits["SECONDS"]
	case TimestampEpochMillis:
		ts.unit = timeUnits["MILLISECONDS"]
	case "EPOCHMICROSECONDS":
		return nil, errors.New("keygen: timestamp type EPOCHMICROSECONDS is Hudi 1.0's; Hudi 0.15 (table version 6) fails on it: use SCALAR with scalar time unit MICROSECONDS")
	case TimestampScalar:
		name := o.ScalarTimeUnit
		if name == "" {
			name = "SECONDS"
		}
		u, ok := timeUnits[strings.ToUpper(name)]
		if !ok {
			return nil, fmt.Errorf("keygen: scalar time unit %q: want NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS", o.ScalarTimeUnit)
		}
		ts.unit = u
	case TimestampDateString, TimestampMixed:
		if err := ts.compileInputs(); err != nil {
			return nil, err
		}
	case "":
		return nil, errors.New("keygen: timestamp-based key generator: timestamp type (hoodie.keygen.timebased.timestamp.type) required")
	default:
		return nil, fmt.Errorf("keygen: timestamp type %q: want UNIX_TIMESTAMP, EPOCHMILLISECONDS, SCALAR, DATE_STRING or MIXED", o.Type)
	}
	if o.OutputDateFormat == "" {
		return nil, errors.New("keygen: timestamp-based key generator: output date format (hoodie.keygen.timebased.output.dateformat) required")
	}
	out, err := compileJoda(o.OutputDateFormat, false)
	if err != nil {
		return nil, fmt.Errorf("keygen: output date format: %w", err)
	}
	ts.output = out
	in, outZ := o.InputTimezone, o.OutputTimezone
	if o.Timezone != "" {
		in, outZ = o.Timezone, o.Timezone
	}
	if ts.inZone, err = loadJavaZone(in); err != nil {
		return nil, fmt.Errorf("keygen: input time zone: %w", err)
	}
	if ts.outZone, err = loadJavaZone(outZ); err != nil {
		return nil, fmt.Errorf("keygen: output time zone: %w", err)
	}
	return ts, nil
}

func (ts *timestampGen) compileInputs() error {
	o := ts.opts
	if strings.TrimSpace(o.InputDateFormat) == "" {
		return fmt.Errorf("keygen: timestamp type %s needs an input date format (hoodie.keygen.timebased.input.dateformat)", o.Type)
	}
	delim := o.InputDateFormatListDelimiterRegex
	if strings.TrimSpace(delim) == "" {
		delim = ","
	}
	re, err := regexp.Compile(delim)
	if err != nil {
		return fmt.Errorf("keygen: input date format delimiter %q: %w", delim, err)
	}
	parts := javaSplit(re, o.InputDateFormat)
	for _, part := range parts {
		p, err := compileJoda(strings.TrimSpace(part), true)
		if err != nil {
			return fmt.Errorf("keygen: input date format: %w", err)
		}
		ts.inputs = append(ts.inputs, p)
	}
	if len(parts) == 0 {
		return fmt.Errorf("keygen: input date format %q holds no pattern", o.InputDateFormat)
	}
	// Hudi formats the default of a null value with the first pattern
	// as split, untrimmed.
	if ts.first, err = compileJoda(parts[0], false); err != nil {
		return fmt.Errorf("keygen: input date format: %w", err)
	}
	return nil
}

// javaSplit is String.split(regex): trailing empty strings removed.
func javaSplit(re *regexp.Regexp, s string) []string {
	parts := re.Split(s, -1)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// loadJavaZone resolves a time zone id as Java's TimeZone.getTimeZone then
// Joda's DateTimeZone.forTimeZone do, for the ids whose meaning is the
// same in Go: "" (unset: nil), UTC and GMT, GMT+hh:mm style offsets, and
// region ids (Area/City, Etc/...). Java silently maps an unknown id to GMT
// and Joda maps legacy three-letter ids (EST, PST, ...) to regions: such
// ids are refused.
func loadJavaZone(id string) (*time.Location, error) {
	switch id {
	case "":
		return nil, nil
	case "UTC", "GMT":
		return time.UTC, nil
	}
	if rest, ok := strings.CutPrefix(id, "GMT"); ok && (strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, "-")) {
		off, ok := parseCustomOffset(rest)
		if !ok {
			return nil, fmt.Errorf("%q: want GMT+hh:mm, GMT+hhmm or GMT+h", id)
		}
		if off == 0 {
			return time.UTC, nil
		}
		return time.FixedZone(id, off), nil
	}
	if !strings.Contains(id, "/") {
		return nil, fmt.Errorf("%q: use a region id such as Asia/Shanghai or America/Los_Angeles, UTC or GMT+hh:mm (Java maps unknown and legacy three-letter ids its own way)", id)
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		return nil, fmt.Errorf("%q: unknown time zone (Java would silently use GMT): %w", id, err)
	}
	return loc, nil
}

// parseCustomOffset parses the part of a Java custom time zone id after
// "GMT": a sign then h, hh, hhmm or h:mm / hh:mm, hours 0-23.
func parseCustomOffset(s string) (int, bool) {
	neg := s[0] == '-'
	s = s[1:]
	var h, m int
	hs, ms, colon := s, "", false
	if i := strings.IndexByte(s, ':'); i >= 0 {
		hs, ms, colon = s[:i], s[i+1:], true
	} else if len(s) == 4 {
		hs, ms = s[:2], s[2:]
	}
	if len(hs) < 1 || len(hs) > 2 || !isDigits(hs) || (colon || ms != "") && (len(ms) != 2 || !isDigits(ms)) {
		return 0, false
	}
	h, _ = strconv.Atoi(hs)
	if ms != "" {
		m, _ = strconv.Atoi(ms)
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if neg {
		off = -off
	}
	return off, true
}

// checkTimestampField checks that the partition field's type is one Hudi
// turns into a time the configured way, and says so when Hudi's
// arithmetic would make every value nonsense. It reports whether values
// are numbers (else strings).
func (ts *timestampGen) checkField(name string, dt arrow.DataType) (numeric bool, err error) {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		dt = d.ValueType
	}
	typ := ts.opts.Type
	stringType := typ == TimestampDateString || typ == TimestampMixed
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		if !stringType {
			return false, fmt.Errorf("keygen: timestamp partition field %q is a string: Hudi parses strings only with timestamp type DATE_STRING and an input date format, not %s", name, typ)
		}
		return false, nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL32, arrow.DECIMAL64, arrow.DECIMAL128, arrow.DECIMAL256:
	case arrow.TIMESTAMP:
		if ts.unit != timeUnits["MICROSECONDS"] {
			return false, fmt.Errorf("keygen: timestamp partition field %q has type %s: Hudi reads a timestamp as epoch microseconds (Spark's timestamp-micros), so timestamp type %s would misplace every row; use SCALAR with scalar time unit MICROSECONDS", name, dt, typ)
		}
	case arrow.DATE32, arrow.DATE64:
		if ts.unit != timeUnits["DAYS"] {
			return false, fmt.Errorf("keygen: timestamp partition field %q has type %s: Hudi reads a date as its number of days since 1970-01-01, so timestamp type %s would misplace every row; use SCALAR with scalar time unit DAYS", name, dt, typ)
		}
	default:
		return false, fmt.Errorf("keygen: timestamp partition field %q has type %s: want an integer, floating point, decimal, timestamp, date or string", name, dt)
	}
	if stringType {
		return false, fmt.Errorf("keygen: timestamp partition field %q has type %s: timestamp type %s parses strings only; use UNIX_TIMESTAMP, EPOCHMILLISECONDS or SCALAR", name, dt, typ)
	}
	return true, nil
}

// appender renders a value as Hudi's key generator sees it: numbers as the
// decimal Java long (Number.longValue(): truncated, saturated for
// floating point, low 64 bits for decimals; timestamps as epoch
// microseconds; dates as epoch days), strings as they are.
func (ts *timestampGen) appender(arr arrow.Array) (appender, error) {
	long := func(f func(i int) int64) appender {
		return func(dst []byte, i int) ([]byte, bool) {
			if arr.IsNull(i) {
				return dst, false
			}
			return strconv.AppendInt(dst, f(i), 10), true
		}
	}
	switch a := arr.(type) {
	case *array.Int8:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int16:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int32:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Int64:
		return long(func(i int) int64 { return a.Value(i) }), nil
	case *array.Uint8:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Uint16:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Uint32:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Float32:
		return long(func(i int) int64 { return javaLong(float64(a.Value(i))) }), nil
	case *array.Float64:
		return long(func(i int) int64 { return javaLong(a.Value(i)) }), nil
	case *array.Decimal32:
		scale := a.DataType().(*arrow.Decimal32Type).Scale
		return long(func(i int) int64 { return decimalLong(big.NewInt(int64(a.Value(i))), scale) }), nil
	case *array.Decimal64:
		scale := a.DataType().(*arrow.Decimal64Type).Scale
		return long(func(i int) int64 { return decimalLong(big.NewInt(int64(a.Value(i))), scale) }), nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return long(func(i int) int64 { return decimalLong(decimal128.Num(a.Value(i)).BigInt(), scale) }), nil
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		return long(func(i int) int64 { return decimalLong(a.Value(i).BigInt(), scale) }), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return long(func(i int) int64 {
			v := int64(a.Value(i))
			switch unit {
			case arrow.Second:
				return saturatingMul(v, 1e6)
			case arrow.Millisecond:
				return saturatingMul(v, 1e3)
			case arrow.Nanosecond:
				return floorDiv(v, 1000)
			}
			return v
		}), nil
	case *array.Date32:
		return long(func(i int) int64 { return int64(a.Value(i)) }), nil
	case *array.Date64:
		return long(func(i int) int64 { return floorDiv(int64(a.Value(i)), 86400000) }), nil
	case *array.String:
		return stringAppender(a), nil
	case *array.LargeString:
		return stringAppender(a), nil
	case *array.StringView:
		return stringAppender(a), nil
	case *array.Dictionary:
		inner, err := ts.appender(a.Dictionary())
		if err != nil {
			return nil, err
		}
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return inner(dst, a.GetValueIndex(i))
		}, nil
	}
	return nil, fmt.Errorf("unsupported array type %s for a timestamp partition field", arr.DataType())
}

// javaLong is Java's (long) of a double: NaN 0, saturating.
func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// decimalLong is BigDecimal.longValue(): the integer part (truncated),
// its low 64 bits.
func decimalLong(unscaled *big.Int, scale int32) int64 {
	v := new(big.Int).Set(unscaled)
	switch {
	case scale > 0:
		v.Quo(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	case scale < 0:
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
	}
	mask := new(big.Int).Lsh(big.NewInt(1), 64)
	v.Mod(v, mask) // Euclidean: 0 <= v < 2^64
	return int64(v.Uint64())
}

func saturatingMul(v, m int64) int64 {
	hi, lo := bits.Mul64(uint64(abs64(v)), uint64(m))
	if hi != 0 || lo > math.MaxInt64 {
		if v < 0 {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if v < 0 {
		return -int64(lo)
	}
	return int64(lo)
}

func abs64(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

// toMillis is TimeUnit.MILLISECONDS.convert(v, unit): truncated toward
// zero for finer units, saturated for coarser ones.
func (u timeUnit) toMillis(v int64) int64 {
	const ms = 1e6
	if u <= ms {
		return v / int64(ms/u)
	}
	return saturatingMul(v, int64(u/ms))
}

// partition appends the partition path segment of one value (v, or null
// when !ok) without the hive-style prefix and before escaping, or returns
// why the value has none.
func (ts *timestampGen) partition(dst, v []byte, ok, numeric bool) ([]byte, string) {
	var (
		t    time.Time
		zone = ts.outZone
	)
	if numeric {
		n := int64(1) // Hudi's default for null
		if ok {
			var err error
			if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return dst, fmt.Sprintf("value %s: %v", short(v), err)
			}
		}
		t = time.UnixMilli(ts.unit.toMillis(n))
		if zone == nil {
			zone = time.UTC
		}
	} else {
		s := string(v)
		if !ok {
			// Hudi formats 1 ms past the epoch with the first input
			// pattern in the input zone (else the output zone, else GMT),
			// then parses that.
			z := ts.inZone
			if z == nil {
				z = ts.outZone
			}
			if z == nil {
				z = time.UTC
			}
			b, err := ts.first.format(nil, time.UnixMilli(1).In(z))
			if err != nil {
				return dst, err.Error()
			}
			s = string(b)
		}
		parsed, parsedZone, err := ts.parse(s)
		if err != nil {
			return dst, err.Error()
		}
		t = parsed
		if zone == nil {
			zone = parsedZone
		}
	}
	out, err := ts.output.format(dst, t.In(zone))
	if err != nil {
		return dst, fmt.Sprintf("partition time %s: %v", t.UTC().Format(time.RFC3339Nano), err)
	}
	return out, ""
}

// parse parses a date string with the first input pattern that matches
// all of it, as Joda's multi-parser does, and returns the instant and the
// zone Joda gives the parsed DateTime (the input zone, else the parsed
// offset, else UTC where Java uses the JVM's default zone).
func (ts *timestampGen) parse(s string) (time.Time, *time.Location, error) {
	var firstErr error
	for _, p := range ts.inputs {
		f, err := p.parse(s)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("with %q: %w", p.src, err)
			}
			continue
		}
		// The first full match wins even if its values are invalid.
		if err := f.validate(); err != nil {
			return time.Time{}, nil, fmt.Errorf("cannot parse %s with %q: %w", short([]byte(s)), p.src, err)
		}
		zone := ts.inZone
		if zone == nil {
			zone = time.UTC
			if f.offsetSet {
				zone = fixedZone(f.offset)
			}
		}
		t, err := f.instant(zone)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("cannot parse %s: %w", short([]byte(s)), err)
		}
		return t, zone, nil
	}
	return time.Time{}, nil, fmt.Errorf("cannot parse %s as a date (input date format %q): %w", short([]byte(s)), ts.opts.InputDateFormat, firstErr)
}

func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}

// timestampPartitionPath is partitionPath for the TimestampBased kind:
// one field, its formatted time, escaped when URLEncode is set, checked
// segment by segment ("yyyy/MM/dd" makes several).
func (g *Generator) timestampPartitionPath(pf []bound, raw, dst []byte) (path []byte, field, reason string) {
	f := &pf[0]
	if g.cfg.HiveStyle {
		dst = append(dst, f.name...)
		dst = append(dst, '=')
	}
	var (
		v  []byte
		ok = raw[0] == 1
	)
	if ok {
		n := int(binary.LittleEndian.Uint32(raw[1:]))
		v = raw[5 : 5+n]
	}
	if ok && !g.tsNumeric && !utf8.Valid(v) {
		return dst, f.name, "partition value is not valid UTF-8"
	}
	start := len(dst)
	dst, reason = g.ts.partition(dst, v, ok, g.tsNumeric)
	if reason != "" {
		return dst, f.name, reason
	}
	if g.cfg.URLEncode {
		formatted := append([]byte(nil), dst[start:]...)
		dst = hivepath.AppendEscaped(dst[:start], formatted)
	}
	segStart := 0
	if g.cfg.HiveStyle {
		segStart = len(f.name) + 1
	}
	for i, seg := range strings.Split(string(dst[segStart:]), "/") {
		full := seg
		if i == 0 && g.cfg.HiveStyle {
			full = string(dst[:segStart]) + seg
		}
		switch {
		case seg == "":
			return dst, f.name, fmt.Sprintf("partition path %s has an empty segment", short(dst))
		case !g.cfg.HiveStyle || i > 0:
			if seg == "." || seg == ".." || strings.HasPrefix(seg, ".hoodie") {
				return dst, f.name, fmt.Sprintf("partition path %s has a segment %q", short(dst), seg)
			}
		}
		if strings.ContainsAny(seg, "\\\x00") {
			return dst, f.name, fmt.Sprintf("partition path %s contains '\\' or NUL", short(dst))
		}
		if len(full) > MaxPartitionSegmentLen {
			return dst, f.name, fmt.Sprintf("partition path segment %s exceeds %d bytes", short([]byte(full)), MaxPartitionSegmentLen)
		}
	}
	if len(dst) > MaxPartitionPathLen {
		return dst, f.name, fmt.Sprintf("partition path of %d bytes exceeds %d", len(dst), MaxPartitionPathLen)
	}
	return dst, "", ""
}
