package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hoodie-lake/hoodie/internal/arrowutil"
)

// Strings are UTF-8 or refused. CSV cells reach Arrow as raw bytes, so
// CSV string cells are checked with arrowutil.CheckUTF8. JSON text is
// decoded by encoding/json, which silently replaces bytes that are not
// UTF-8, and \u escapes of unpaired UTF-16 surrogates ("\ud800"), with
// U+FFFD; a JSON line where that would happen is refused instead.

// JSONObjectProblem checks one JSON object (a line, already parsed into m)
// for text that decoding would silently replace with U+FFFD: bytes that
// are not UTF-8, or a \u escape of an unpaired surrogate, anywhere in it.
// It returns "" and "" when there is none; else the top-level field whose
// value holds the first one (fields named in first are tried first, then
// the others in sorted order; "" when it is in a field name) and the
// reason, with the position in that value (or in the line).
func JSONObjectProblem(line []byte, m map[string]json.RawMessage, first []string) (field, reason string) {
	if jsonClean(line) {
		return "", ""
	}
	whole := jsonTextProblem(line)
	if whole == "" {
		return "", ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(first, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range append(append([]string(nil), first...), keys...) {
		if v, ok := m[k]; ok {
			if r := jsonTextProblem(v); r != "" {
				return k, r
			}
		}
	}
	return "", "field name: " + whole
}

// jsonClean is the fast check: valid UTF-8 and no \u escape at all.
func jsonClean(b []byte) bool {
	return utf8.Valid(b) && !bytes.Contains(b, []byte(`\u`))
}

// jsonTextProblem describes the first text of a JSON value (or line, of
// valid JSON syntax) that decoding would replace with U+FFFD, or returns
// "". A string value is described by its content, without the quotes.
func jsonTextProblem(b []byte) string {
	b = bytes.TrimSpace(b)
	inString := false
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b, inString = b[1:len(b)-1], true
	}
	if e := arrowutil.CheckUTF8(string(b)); e != nil {
		return e.Reason()
	}
	if off, esc := unpairedSurrogate(b, inString); off >= 0 {
		return fmt.Sprintf("string has an unpaired UTF-16 surrogate escape %s at byte %d of %q (decoding would replace it with U+FFFD)",
			esc, off, snippet(b, off))
	}
	return ""
}

// unpairedSurrogate returns the offset and text of the first \u escape of
// an unpaired surrogate in JSON text b (starting inside a string if
// inString), or -1.
func unpairedSurrogate(b []byte, inString bool) (int, string) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(b) && b[i+1] != 'u' {
				i++ // a two-byte escape: \" \\ \n ...
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				continue
			}
			switch {
			case r >= 0xd800 && r < 0xdc00:
				if lo, ok := hex4(b, i+8); ok && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xdc00 && lo < 0xe000 {
					i += 11
					continue
				}
				return i, string(b[i : i+6])
			case r >= 0xdc00 && r < 0xe000:
				return i, string(b[i : i+6])
			}
			i += 5
		}
	}
	return -1, ""
}

// hex4 parses the four hex digits at b[at:].
func hex4(b []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// snippet is b around off (valid UTF-8 here), at most about 64 bytes.
func snippet(b []byte, off int) string {
	const around = 24
	lo, hi := max(0, off-around), min(len(b), off+6+around)
	for lo > 0 && !utf8.RuneStart(b[lo]) {
		lo--
	}
	for hi < len(b) && !utf8.RuneStart(b[hi]) {
		hi++
	}
	s := string(b[lo:hi])
	if lo > 0 {
		s = "…" + s
	}
	if hi < len(b) {
		s += "…"
	}
	return s
}
