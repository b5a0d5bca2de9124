package keygen

// DefaultPartition is the partition value Hudi writes for null or empty
// partition field values (PartitionPathEncodeUtils.DEFAULT_PARTITION_PATH).
const DefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// escapeSet marks the ASCII bytes Hive's FileUtils.escapePathName (and
// Hudi's PartitionPathEncodeUtils) turns into %XX: 0x00-0x1F (Java's list
// names 0x01-0x1F but a loop also sets NUL), "#%'*/:=?\{[]^ and 0x7F.
var escapeSet = func() (s [256]bool) {
	for c := 0; c < ' '; c++ {
		s[c] = true
	}
	for _, c := range []byte{'"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', 0x7F, '{', '[', ']', '^'} {
		s[c] = true
	}
	return s
}()

// needsEscape reports whether s has a byte EscapePathName would change.
func needsEscape[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if escapeSet[s[i]] {
			return true
		}
	}
	return false
}

// EscapePathName returns s with every byte in Hive's escape set (0x00-0x1F,
// "#%'*/:=?\{[]^ and 0x7F) replaced by %XX, upper-case hex, as
// PartitionPathEncodeUtils.escapePathName does when
// hoodie.datasource.write.partitionpath.urlencode is true. Non-ASCII text is
// left alone: Java only escapes chars below 128, and UTF-8 bytes of
// non-ASCII runes are all >= 0x80. An empty s becomes DefaultPartition.
func EscapePathName(s string) string {
	if s == "" {
		return DefaultPartition
	}
	if !needsEscape(s) {
		return s
	}
	return string(appendEscaped(make([]byte, 0, len(s)+16), s))
}

func appendEscaped[S string | []byte](dst []byte, s S) []byte {
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

// UnescapePathName reverses EscapePathName the way
// PartitionPathEncodeUtils.unescapePathName does: every %XX with two hex
// digits becomes that byte; anything else is kept.
func UnescapePathName(s string) string {
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
