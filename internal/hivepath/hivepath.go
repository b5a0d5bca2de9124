// Package hivepath is Hive's partition-path escaping as Hudi applies it
// when hoodie.datasource.write.partitionpath.urlencode is true
// (PartitionPathEncodeUtils, a copy of Hive's FileUtils.escapePathName):
// bytes 0x00-0x1F, "#%'*/:=?\{[]^ and 0x7F become %XX with upper-case hex;
// everything else, non-ASCII UTF-8 included, stays.
package hivepath

// escapeSet marks the bytes Escape turns into %XX. (Java's list names
// 0x01-0x1F, but the loop that builds its bit set also sets NUL.)
var escapeSet = func() (s [256]bool) {
	for c := 0; c < ' '; c++ {
		s[c] = true
	}
	for _, c := range []byte{'"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', 0x7F, '{', '[', ']', '^'} {
		s[c] = true
	}
	return s
}()

// NeedsEscape reports whether s has a byte Escape would change.
func NeedsEscape[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if escapeSet[s[i]] {
			return true
		}
	}
	return false
}

// Escape returns s %-escaped. "" stays "" (callers substitute Hudi's
// default partition first).
func Escape(s string) string {
	if !NeedsEscape(s) {
		return s
	}
	return string(AppendEscaped(make([]byte, 0, len(s)+16), s))
}

// AppendEscaped appends s, %-escaped, to dst.
func AppendEscaped[S string | []byte](dst []byte, s S) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escapeSet[c] {
			dst = append(dst, '%', hex[c>>4], hex[c&0xF])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// Unescape reverses Escape: every %XX with two hex digits becomes that
// byte; anything else is kept. (Hive leaves a %XX that ends the string
// undecoded; hoodie decodes it, as hudi-rs does.)
func Unescape(s string) string {
	i := 0
	for i < len(s) && s[i] != '%' {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
