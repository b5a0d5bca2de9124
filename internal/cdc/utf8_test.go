package cdc

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseInvalidUTF8: an event whose text JSON decoding would silently
// change to U+FFFD (bytes that are not UTF-8, an unpaired surrogate
// escape) is refused, naming the row image's field when it is in one.
func TestParseInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, line, field, reason string
	}{
		{"value", "{\"after\":{\"id\":1,\"name\":\"x\xff\xfey\"},\"op\":\"c\",\"source\":{\"lsn\":1}}", "name", `"\xff\xfe" at byte 1 of "x\xff\xfey"`},
		{"surrogate", `{"after":{"id":1,"name":"\udfff"},"op":"c","source":{"lsn":1}}`, "name", `\udfff at byte 0`},
		{"field-name", "{\"after\":{\"id\":1,\"na\xffme\":\"z\"},\"op\":\"c\",\"source\":{\"lsn\":1}}", "after", "field name"},
		{"before-image", "{\"before\":{\"id\":1,\"name\":\"\xc3\"},\"op\":\"d\",\"source\":{\"lsn\":1}}", "name", `"\xc3"`},
		{"envelope", "{\"schema\":{\"type\":\"struct\",\"name\":\"\xff\"},\"payload\":{\"after\":{\"id\":1},\"op\":\"c\",\"source\":{\"lsn\":1}}}", "", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.line), Auto)
			var ce *Error
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tc.field, ce.Field)
			assert.Contains(t, ce.Reason, tc.reason)
		})
	}
	ev, err := Parse([]byte(`{"after":{"id":1,"name":"\ud83d\ude00 \ufffd"},"op":"c","source":{"lsn":1}}`), Auto)
	require.NoError(t, err, "a surrogate pair and an escaped U+FFFD are fine")
	assert.Equal(t, "😀 \ufffd", row(t, ev, "name"))
}
