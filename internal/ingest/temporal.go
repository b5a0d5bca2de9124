package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Dates and timestamps in text input (see the package doc).

// timestampLayouts are tried in order, on the text with a space between
// date and time replaced by "T". Layouts without a zone parse as UTC.
var timestampLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04Z07",
	"2006-01-02T15:04",
}

const isoDateLayout = "2006-01-02"

// isISODate reports whether s has the shape YYYY-MM-DD (not whether the
// date exists).
func isISODate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// parseTime parses an ISO-8601 timestamp (or a date: midnight UTC).
func parseTime(s string) (time.Time, bool) {
	if isISODate(s) {
		t, err := time.Parse(isoDateLayout, s)
		return t, err == nil
	}
	if len(s) < 16 || !isISODate(s[:10]) || (s[10] != 'T' && s[10] != ' ') {
		return time.Time{}, false
	}
	s = s[:10] + "T" + s[11:]
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDate parses "YYYY-MM-DD" into days since the epoch.
func parseDate(s string) (int64, error) {
	if !isISODate(s) {
		return 0, fmt.Errorf("want a date (YYYY-MM-DD), got %q", truncate(s))
	}
	t, err := time.Parse(isoDateLayout, s)
	if err != nil {
		return 0, fmt.Errorf("want a date (YYYY-MM-DD), got %q: %s", s, dateReason(err))
	}
	return int64(math.Floor(float64(t.Unix()) / 86400)), nil
}

// dateReason shortens time.Parse's errors ("parsing time "2024-13-01":
// month out of range") to their reason.
func dateReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// timestampUnit returns the count of t's unit in one second.
func timestampUnit(t *arrow.TimestampType) int64 {
	switch t.Unit {
	case arrow.Second:
		return 1
	case arrow.Millisecond:
		return 1e3
	case arrow.Microsecond:
		return 1e6
	}
	return 1e9
}

// parseTimestamp parses text into a value of t: an ISO-8601 timestamp or
// date, or an integer in t's unit since the epoch.
func parseTimestamp(t *arrow.TimestampType, s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	tm, ok := parseTime(s)
	if !ok {
		if len(s) >= 10 && isISODate(s[:10]) {
			if _, err := time.Parse(isoDateLayout, s[:10]); err != nil {
				return 0, fmt.Errorf("want an ISO-8601 timestamp, got %q: %s", truncate(s), dateReason(err))
			}
		}
		return 0, fmt.Errorf("want an ISO-8601 timestamp (2024-01-31T12:34:56Z, with T or a space, Z, an offset or none for UTC) or an integer in %s since the epoch, got %q",
			unitName(t), truncate(s))
	}
	per := timestampUnit(t)
	sec := tm.Unix()
	if sec > math.MaxInt64/per-1 || sec < math.MinInt64/per+1 {
		return 0, fmt.Errorf("timestamp %q is out of the range of %s", truncate(s), t)
	}
	return sec*per + int64(tm.Nanosecond())/(1e9/per), nil
}

func unitName(t *arrow.TimestampType) string {
	switch t.Unit {
	case arrow.Second:
		return "seconds"
	case arrow.Millisecond:
		return "milliseconds"
	case arrow.Microsecond:
		return "microseconds"
	}
	return "nanoseconds"
}

// convertTemporal converts text (a JSON string's content or a CSV cell)
// for a date or timestamp column; ok is false for other columns.
func convertTemporal(t arrow.DataType, s string) (v any, ok bool, err error) {
	switch t.ID() {
	case arrow.DATE32:
		d, err := parseDate(s)
		if err != nil {
			if n, nerr := strconv.ParseInt(s, 10, 32); nerr == nil {
				return int32(n), true, nil
			}
			return nil, true, err
		}
		if d > math.MaxInt32 || d < math.MinInt32 {
			return nil, true, fmt.Errorf("date %q is out of range", s)
		}
		return int32(d), true, nil
	case arrow.DATE64:
		d, err := parseDate(s)
		if err != nil {
			return nil, true, err
		}
		return d * 86400000, true, nil
	case arrow.TIMESTAMP:
		n, err := parseTimestamp(t.(*arrow.TimestampType), s)
		if err != nil {
			return nil, true, err
		}
		return n, true, nil
	}
	return nil, false, nil
}

// temporalKinds tracks, during inference, whether a column's strings are
// all ISO-8601 dates and timestamps.
type temporalKinds struct {
	dates, times, other bool
}

func (k *temporalKinds) see(s string) {
	switch {
	case isISODate(s):
		if _, err := time.Parse(isoDateLayout, s); err != nil {
			k.other = true
			return
		}
		k.dates = true
	case len(s) >= 16:
		if _, ok := parseTime(s); ok {
			k.times = true
			return
		}
		k.other = true
	default:
		k.other = true
	}
}

// inferredTimestamp is the type of inferred timestamp columns: Spark's
// TIMESTAMP (Avro timestamp-micros).
var inferredTimestamp = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// typ returns the inferred type, or nil when the strings are not all
// dates and timestamps.
func (k temporalKinds) typ() arrow.DataType {
	switch {
	case k.other:
		return nil
	case k.times:
		return inferredTimestamp
	case k.dates:
		return arrow.FixedWidthTypes.Date32
	}
	return nil
}
