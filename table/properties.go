package table

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrMalformedProperties marks java.util.Properties text that Java's
// Properties.load would reject (a malformed \uXXXX escape). Use errors.Is.
var ErrMalformedProperties = errors.New("table: malformed properties")

// ParseProperties parses java.util.Properties text the way
// Properties.load(InputStream) does:
//
//   - bytes are ISO 8859-1 (each byte is one character), as Java's
//     InputStream variant reads them; other characters arrive as \uXXXX;
//   - natural lines end in "\n", "\r" or "\r\n"; a line ending in an odd number
//     of backslashes continues on the next line, whose leading whitespace is
//     dropped;
//   - lines whose first non-blank character is '#' or '!' are comments, blank
//     lines are skipped;
//   - the key runs to the first unescaped '=', ':' or blank (space, tab, form
//     feed); blanks, then at most one '=' or ':', then blanks separate it from
//     the value ("k=v", "k: v", "k v" are the same);
//   - escapes: \t \n \r \f, \uXXXX (UTF-16 code units; surrogate pairs are
//     joined), and \c for any other c is c itself (so "\:" is ':').
//
// A later duplicate key replaces an earlier one, as in Java.
func ParseProperties(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	props := map[string]string{}
	for {
		line, err := readLogicalLine(br)
		if err != nil {
			return nil, fmt.Errorf("table: read properties: %w", err)
		}
		if line == nil {
			return props, nil
		}
		key, value, err := splitPropertyLine(line)
		if err != nil {
			return nil, err
		}
		props[key] = value
	}
}

func isPropBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// readLogicalLine is Java's Properties.LineReader.readLine: it returns the
// next logical line with comment lines, blank lines and leading blanks
// removed and continuations joined (their backslashes dropped), or nil at
// EOF. Escapes are left for unescapeProperty.
func readLogicalLine(br *bufio.Reader) ([]byte, error) {
	var (
		buf            []byte
		skipBlank      = true  // dropping leading blanks of a natural line
		appended       = false // at the start of a continuation line
		precedingSlash = false // odd run of backslashes just before
		skipLF         = false // previous natural line ended in '\r'
	)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			if len(buf) == 0 {
				return nil, nil
			}
			if precedingSlash {
				buf = buf[:len(buf)-1]
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if skipLF {
			skipLF = false
			if c == '\n' {
				continue
			}
		}
		if skipBlank {
			if isPropBlank(c) {
				continue
			}
			if !appended && (c == '\r' || c == '\n') {
				continue
			}
			skipBlank = false
			appended = false
		}
		if len(buf) == 0 && (c == '#' || c == '!') {
			// A comment: consume the rest of the natural line.
			for {
				c, err = br.ReadByte()
				if err == io.EOF {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				if c == '\r' || c == '\n' {
					break
				}
			}
			skipBlank = true
			continue
		}
		if c != '\n' && c != '\r' {
			buf = append(buf, c)
			if c == '\\' {
				precedingSlash = !precedingSlash
			} else {
				precedingSlash = false
			}
			continue
		}
		// End of a natural line.
		if len(buf) == 0 {
			skipBlank = true
			continue
		}
		if precedingSlash {
			buf = buf[:len(buf)-1]
			skipBlank = true
			appended = true
			precedingSlash = false
			if c == '\r' {
				skipLF = true
			}
			continue
		}
		if c == '\r' {
			// Swallow the '\n' of a "\r\n" ending.
			if b, err := br.Peek(1); err == nil && b[0] == '\n' {
				_, _ = br.ReadByte()
			}
		}
		return buf, nil
	}
}

// splitPropertyLine splits a logical line into its unescaped key and value.
func splitPropertyLine(line []byte) (string, string, error) {
	keyLen := 0
	valueStart := len(line)
	hasSep := false
	precedingSlash := false
	for keyLen < len(line) {
		c := line[keyLen]
		if (c == '=' || c == ':') && !precedingSlash {
			valueStart = keyLen + 1
			hasSep = true
			break
		}
		if isPropBlank(c) && !precedingSlash {
			valueStart = keyLen + 1
			break
		}
		if c == '\\' {
			precedingSlash = !precedingSlash
		} else {
			precedingSlash = false
		}
		keyLen++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isPropBlank(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	key, err := unescapeProperty(line[:keyLen])
	if err != nil {
		return "", "", err
	}
	value, err := unescapeProperty(line[valueStart:])
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescapeProperty is Java's loadConvert: it resolves escapes and maps
// ISO 8859-1 bytes to characters.
func unescapeProperty(in []byte) (string, error) {
	units := make([]uint16, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			units = append(units, uint16(c))
			continue
		}
		i++
		if i >= len(in) {
			// A trailing lone backslash only survives at EOF; Java drops it.
			break
		}
		c = in[i]
		switch c {
		case 'u':
			if i+4 >= len(in) {
				return "", fmt.Errorf("%w: short \\uxxxx escape", ErrMalformedProperties)
			}
			var v uint16
			for j := 1; j <= 4; j++ {
				h := in[i+j]
				switch {
				case h >= '0' && h <= '9':
					v = v<<4 | uint16(h-'0')
				case h >= 'a' && h <= 'f':
					v = v<<4 | uint16(h-'a'+10)
				case h >= 'A' && h <= 'F':
					v = v<<4 | uint16(h-'A'+10)
				default:
					return "", fmt.Errorf("%w: malformed \\uxxxx escape %q", ErrMalformedProperties, in[i-1:i+5])
				}
			}
			i += 4
			units = append(units, v)
		case 't':
			units = append(units, '\t')
		case 'r':
			units = append(units, '\r')
		case 'n':
			units = append(units, '\n')
		case 'f':
			units = append(units, '\f')
		default:
			units = append(units, uint16(c))
		}
	}
	return string(utf16.Decode(units)), nil
}

// PropertiesOptions are knobs of WriteProperties. The zero value writes no
// comments and every key in sorted order.
type PropertiesOptions struct {
	// Comments are written first, one "#" line per line of each comment, as
	// Properties.store writes its comments argument.
	Comments []string
	// Timestamp, when set, adds the "#<date>" line Properties.store writes
	// after the comments (java.util.Date.toString format, in the time's zone).
	Timestamp time.Time
	// Last lists keys written after all others, in this order (Hudi writes
	// hoodie.table.checksum last).
	Last []string
}

// WriteProperties writes props as java.util.Properties.store(OutputStream)
// does: "key=value" lines ending in "\n", with '\\', '=', ':', '#', '!',
// control characters and a leading space (every space, in keys) escaped, and
// every character outside printable ASCII written as \uXXXX (UTF-16 code
// units, upper-case hex), so the output is pure ASCII. Keys are written in
// sorted order (Java's order is its hash table's, which no reader relies on),
// then opts.Last.
func WriteProperties(w io.Writer, props map[string]string, opts PropertiesOptions) error {
	var b strings.Builder
	for _, c := range opts.Comments {
		writePropertiesComment(&b, c)
	}
	if !opts.Timestamp.IsZero() {
		b.WriteString("#")
		b.WriteString(javaDateString(opts.Timestamp))
		b.WriteString("\n")
	}
	last := map[string]bool{}
	for _, k := range opts.Last {
		last[k] = true
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		if !last[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range opts.Last {
		if _, ok := props[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		escapeProperty(&b, k, true)
		b.WriteByte('=')
		escapeProperty(&b, props[k], false)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("table: write properties: %w", err)
	}
	return nil
}

// FormatProperties is WriteProperties into a byte slice.
func FormatProperties(props map[string]string, opts PropertiesOptions) []byte {
	var b strings.Builder
	// strings.Builder never fails to write.
	_ = WriteProperties(&b, props, opts)
	return []byte(b.String())
}

// escapeProperty is Java's saveConvert with escapeUnicode set.
func escapeProperty(b *strings.Builder, s string, isKey bool) {
	first := true
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ' ':
			if first || isKey {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			writeUnicodeEscapes(b, r)
		default:
			b.WriteRune(r)
		}
		first = false
	}
}

func writeUnicodeEscapes(b *strings.Builder, r rune) {
	const hex = "0123456789ABCDEF"
	var units []uint16
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		units = []uint16{uint16(r1), uint16(r2)}
	} else {
		units = []uint16{uint16(r)}
	}
	for _, u := range units {
		b.WriteString(`\u`)
		b.WriteByte(hex[u>>12&0xF])
		b.WriteByte(hex[u>>8&0xF])
		b.WriteByte(hex[u>>4&0xF])
		b.WriteByte(hex[u&0xF])
	}
}

// writePropertiesComment is Java's writeComments: '#' starts every line
// unless the line already starts with '#' or '!'; characters outside
// printable ASCII become \uXXXX.
func writePropertiesComment(b *strings.Builder, c string) {
	b.WriteByte('#')
	for i := 0; i < len(c); {
		r, size := utf8.DecodeRuneInString(c[i:])
		i += size
		switch {
		case r == '\r' || r == '\n':
			if r == '\r' && i < len(c) && c[i] == '\n' {
				i++
			}
			b.WriteByte('\n')
			if i >= len(c) || (c[i] != '#' && c[i] != '!') {
				b.WriteByte('#')
			}
		case r < 0x20 || r > 0x7e:
			writeUnicodeEscapes(b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\n')
}

// javaDateString formats t as java.util.Date.toString does:
// "Thu Apr 18 17:32:13 CDT 2024".
func javaDateString(t time.Time) string {
	return t.Format("Mon Jan 02 15:04:05 MST 2006")
}

// javaInstantString formats t (in UTC) as java.time.Instant.toString does,
// with 0, 3, 6 or 9 fraction digits: "2024-04-18T22:32:13.522Z".
func javaInstantString(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	base := t.Format("2006-01-02T15:04:05")
	switch {
	case ns == 0:
		return base + "Z"
	case ns%1_000_000 == 0:
		return fmt.Sprintf("%s.%03dZ", base, ns/1_000_000)
	case ns%1_000 == 0:
		return fmt.Sprintf("%s.%06dZ", base, ns/1_000)
	default:
		return fmt.Sprintf("%s.%09dZ", base, ns)
	}
}
