package keygen

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A jodaPattern is a Joda-Time DateTimeFormat pattern, the syntax of
// Hudi's hoodie.keygen.timebased.input.dateformat and output.dateformat
// (TimestampBasedAvroKeyGenerator formats and parses with Joda, not
// java.time). Letters are fields, text in single quotes is literal (” is
// a quote), any other character is literal.
//
// Supported when formatting (output): y yyyy (year, zero-padded to the
// count), yy (two-digit year), Y (year of era, as y for years 1..9999),
// x (ISO week year), M MM (month), MMM MMMM (English month text), d (day
// of month), D (day of year), w (ISO week), e (ISO day of week number), E
// EEEE (English day text), H (hour 0-23), k (1-24), K (0-11), h (1-12),
// a (AM/PM), m, s, S... (fraction of second, truncated to the count),
// Z (+0800) and ZZ (+08:00). When parsing (input), the same except yy, x,
// Y, D, w, e and E: two-digit years parse against the current date in
// Joda, and the week and day-of-week fields move the parsed date in ways
// hoodie does not reproduce. G, C, z, ZZZ and letters Joda does not know
// are refused.
type jodaPattern struct {
	src  string
	toks []jodaTok
}

// jodaTok is a field (letter with its repeat count) or a literal.
type jodaTok struct {
	letter byte
	count  int
	lit    string
	// maxDigits bounds a parsed number: Joda parses a field followed by
	// another numeric field with exactly its own width.
	maxDigits int
}

// compileJoda parses a pattern; parse selects the letters allowed in an
// input pattern.
func compileJoda(pattern string, parse bool) (*jodaPattern, error) {
	if pattern == "" {
		return nil, errors.New("empty date pattern")
	}
	p := &jodaPattern{src: pattern}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			// Quoted literal; '' inside or alone is a quote.
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(pattern) {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				sb.WriteByte(pattern[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("date pattern %q: unterminated quote", pattern)
			}
			if j == i+2 { // ''
				sb.WriteByte('\'')
			}
			p.addLit(sb.String())
			i = j
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			tok := jodaTok{letter: c, count: j - i}
			if err := checkJodaLetter(tok, parse); err != nil {
				return nil, fmt.Errorf("date pattern %q: %w", pattern, err)
			}
			p.toks = append(p.toks, tok)
			i = j
		default:
			p.addLit(string(c))
			i++
		}
	}
	// Numeric widths when parsing, as Joda's DateTimeFormat sets them.
	for k := range p.toks {
		t := &p.toks[k]
		if t.letter == 0 {
			continue
		}
		next := k+1 < len(p.toks) && p.toks[k+1].numeric()
		switch t.letter {
		case 'y', 'Y', 'x':
			t.maxDigits = 9
			if next {
				t.maxDigits = t.count
			}
		case 'D':
			t.maxDigits = 3
		case 'S':
			t.maxDigits = t.count
		default:
			t.maxDigits = 2
		}
	}
	return p, nil
}

func (p *jodaPattern) addLit(s string) {
	if n := len(p.toks); n > 0 && p.toks[n-1].letter == 0 {
		p.toks[n-1].lit += s
		return
	}
	p.toks = append(p.toks, jodaTok{lit: s})
}

// numeric is Joda's isNumericToken.
func (t jodaTok) numeric() bool {
	switch t.letter {
	case 'c', 'C', 'x', 'y', 'Y', 'd', 'h', 'H', 'm', 's', 'S', 'e', 'D', 'F', 'W', 'k', 'K', 'w':
		return true
	case 'M':
		return t.count <= 2
	}
	return false
}

func checkJodaLetter(t jodaTok, parse bool) error {
	switch t.letter {
	case 'y':
		if parse && t.count == 2 {
			return errors.New("two-digit year 'yy' cannot be parsed reproducibly (Joda resolves it against the current date); use yyyy")
		}
		return nil
	case 'M', 'd', 'H', 'k', 'K', 'h', 'a', 'm', 's', 'S':
		return nil
	case 'Z':
		if t.count > 2 {
			return errors.New("time zone id 'ZZZ' is not supported; use Z (+0800) or ZZ (+08:00)")
		}
		return nil
	case 'Y', 'x', 'D', 'w', 'e', 'E':
		if parse {
			return fmt.Errorf("letter '%c' is not supported in an input date format (only y M d H k K h a m s S Z)", t.letter)
		}
		return nil
	case 'G', 'C':
		return fmt.Errorf("letter '%c' (era, century) is not supported", t.letter)
	case 'z':
		return errors.New("time zone name 'z' is not supported (its text depends on the JVM's locale data); use Z or ZZ")
	}
	return fmt.Errorf("illegal pattern letter '%c' (quote literal text: 'T')", t.letter)
}

var (
	monthText   = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	weekdayText = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)

// format appends t (already in the output zone) as the pattern prints it,
// or fails for a year outside 0..9999.
func (p *jodaPattern) format(dst []byte, t time.Time) ([]byte, error) {
	year := t.Year()
	if year < 0 || year > 9999 {
		return dst, fmt.Errorf("year %d is out of range (0..9999)", year)
	}
	for _, tok := range p.toks {
		n := tok.count
		switch tok.letter {
		case 0:
			dst = append(dst, tok.lit...)
		case 'y', 'Y':
			if n == 2 {
				dst = appendPadded(dst, int64(year%100), 2)
			} else {
				dst = appendPadded(dst, int64(year), n)
			}
		case 'x':
			wy, _ := t.ISOWeek()
			if n == 2 {
				dst = appendPadded(dst, int64(wy%100), 2)
			} else {
				dst = appendPadded(dst, int64(wy), n)
			}
		case 'M':
			switch {
			case n >= 4:
				dst = append(dst, monthText[t.Month()-1]...)
			case n == 3:
				dst = append(dst, monthText[t.Month()-1][:3]...)
			default:
				dst = appendPadded(dst, int64(t.Month()), n)
			}
		case 'd':
			dst = appendPadded(dst, int64(t.Day()), n)
		case 'D':
			dst = appendPadded(dst, int64(t.YearDay()), n)
		case 'w':
			_, w := t.ISOWeek()
			dst = appendPadded(dst, int64(w), n)
		case 'e':
			dst = appendPadded(dst, int64(isoWeekday(t)), n)
		case 'E':
			name := weekdayText[isoWeekday(t)-1]
			if n < 4 {
				name = name[:3]
			}
			dst = append(dst, name...)
		case 'H':
			dst = appendPadded(dst, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = appendPadded(dst, int64(h), n)
		case 'K':
			dst = appendPadded(dst, int64(t.Hour()%12), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = appendPadded(dst, int64(h), n)
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'm':
			dst = appendPadded(dst, int64(t.Minute()), n)
		case 's':
			dst = appendPadded(dst, int64(t.Second()), n)
		case 'S':
			ms := t.Nanosecond() / 1e6
			digits := appendPadded(nil, int64(ms), 3)
			for len(digits) < n {
				digits = append(digits, '0')
			}
			dst = append(dst, digits[:n]...)
		case 'Z':
			_, off := t.Zone()
			dst = appendOffset(dst, off, n == 2)
		}
	}
	return dst, nil
}

func isoWeekday(t time.Time) int {
	wd := int(t.Weekday())
	if wd == 0 {
		return 7
	}
	return wd
}

// appendOffset prints a UTC offset as Joda's 'Z' (+0800) or 'ZZ'
// (+08:00), seconds dropped.
func appendOffset(dst []byte, off int, colon bool) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = appendPadded(dst, int64(off/3600), 2)
	if colon {
		dst = append(dst, ':')
	}
	return appendPadded(dst, int64(off/60%60), 2)
}

// jodaFields are the fields a parse set; Joda starts from 2000-01-01T00:00
// in the parse zone.
type jodaFields struct {
	year, month, day             int
	hour, minute, second, millis int
	clockHalf, halfday           int // -1: unset
	hour24Set                    bool
	hour24Letter, halfLetter     byte
	offset                       int
	offsetSet                    bool
}

// parse parses the whole of s, or reports why not. Values are not range
// checked: see validate.
func (p *jodaPattern) parse(s string) (jodaFields, error) {
	// Joda's parse default year is 2000, not 1970.
	f := jodaFields{year: 2000, month: 1, day: 1, clockHalf: -1, halfday: -1}
	pos := 0
	for _, tok := range p.toks {
		if tok.letter == 0 {
			// Joda matches literals ignoring case.
			if len(s)-pos < len(tok.lit) || !strings.EqualFold(s[pos:pos+len(tok.lit)], tok.lit) {
				return f, fmt.Errorf("expected %q at offset %d", tok.lit, pos)
			}
			pos += len(tok.lit)
			continue
		}
		switch tok.letter {
		case 'M':
			if tok.count >= 3 {
				m, n := matchText(s[pos:], monthText[:])
				if n == 0 {
					return f, fmt.Errorf("no month name at offset %d", pos)
				}
				f.month, pos = m+1, pos+n
				continue
			}
		case 'a':
			switch {
			case len(s)-pos >= 2 && strings.EqualFold(s[pos:pos+2], "AM"):
				f.halfday = 0
			case len(s)-pos >= 2 && strings.EqualFold(s[pos:pos+2], "PM"):
				f.halfday = 1
			default:
				return f, fmt.Errorf("expected AM or PM at offset %d", pos)
			}
			pos += 2
			continue
		case 'Z':
			off, n, ok := parseOffset(s[pos:], tok.count == 2)
			if !ok {
				return f, fmt.Errorf("no UTC offset at offset %d", pos)
			}
			f.offset, f.offsetSet, pos = off, true, pos+n
			continue
		}
		signed := tok.letter == 'y'
		v, n, ok := parseNumber(s[pos:], tok.maxDigits, signed)
		if !ok {
			return f, fmt.Errorf("expected a number at offset %d", pos)
		}
		if tok.letter == 'S' {
			// Fraction of second: digits after the point, to millis.
			for d := n; d < 3; d++ {
				v *= 10
			}
			for d := n; d > 3; d-- {
				v /= 10
			}
		}
		pos += n
		f.set(tok.letter, v)
	}
	if pos != len(s) {
		return f, fmt.Errorf("unparsed text %q at offset %d", s[pos:], pos)
	}
	return f, nil
}

func (f *jodaFields) set(letter byte, v int) {
	switch letter {
	case 'y':
		f.year = v
	case 'M':
		f.month = v
	case 'd':
		f.day = v
	case 'H', 'k':
		f.hour, f.hour24Set = v, true
		f.hour24Letter = letter
	case 'K', 'h':
		f.clockHalf, f.halfLetter = v, letter
	case 'm':
		f.minute = v
	case 's':
		f.second = v
	case 'S':
		f.millis = v
	}
}

// validate checks the parsed values' ranges, as Joda does once a parser
// has matched the whole text.
func (f *jodaFields) validate() error {
	check := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("value %d for %s must be in the range [%d,%d]", v, name, lo, hi)
		}
		return nil
	}
	errs := []error{check("monthOfYear", f.month, 1, 12), check("dayOfMonth", f.day, 1, 31),
		check("minuteOfHour", f.minute, 0, 59), check("secondOfMinute", f.second, 0, 59)}
	if f.hour24Set {
		if f.hour24Letter == 'k' {
			errs = append(errs, check("clockhourOfDay", f.hour, 1, 24))
		} else {
			errs = append(errs, check("hourOfDay", f.hour, 0, 23))
		}
	}
	if f.clockHalf >= 0 {
		if f.halfLetter == 'h' {
			errs = append(errs, check("clockhourOfHalfday", f.clockHalf, 1, 12))
		} else {
			errs = append(errs, check("hourOfHalfday", f.clockHalf, 0, 11))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if f.hour24Letter == 'k' {
		f.hour %= 24
	}
	if f.clockHalf >= 0 || f.halfday >= 0 {
		if !f.hour24Set {
			h := max(f.clockHalf, 0) % 12
			if f.halfday == 1 {
				h += 12
			}
			f.hour = h
		} else if f.halfday >= 0 && (f.hour >= 12) != (f.halfday == 1) {
			// Joda sets halfday after hourOfDay: it moves the hour.
			if f.halfday == 1 {
				f.hour += 12
			} else {
				f.hour -= 12
			}
		}
	}
	// Joda checks dayOfMonth against the month once year and month are set.
	if last := time.Date(f.year, time.Month(f.month)+1, 0, 0, 0, 0, 0, time.UTC).Day(); f.day > last {
		return fmt.Errorf("value %d for dayOfMonth must be in the range [1,%d]", f.day, last)
	}
	return nil
}

// parseNumber parses 1 to maxDigits decimal digits (a leading sign when
// signed), as Joda's number parsers do.
func parseNumber(s string, maxDigits int, signed bool) (v, n int, ok bool) {
	neg := false
	if signed && len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		n = 1
	}
	start := n
	for n < len(s) && n-start < maxDigits && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
	}
	if n == start {
		return 0, 0, false
	}
	if neg {
		v = -v
	}
	return v, n, true
}

// parseOffset parses "Z", or a sign, two hour digits, then (colon optional
// as Joda accepts both) two minute digits or nothing.
func parseOffset(s string, _ bool) (off, n int, ok bool) {
	if strings.HasPrefix(s, "Z") {
		return 0, 1, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') || !isDigits(s[1:3]) {
		return 0, 0, false
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	n = 3
	m := 0
	rest := s[3:]
	if strings.HasPrefix(rest, ":") && len(rest) >= 3 && isDigits(rest[1:3]) {
		m, n = int(rest[1]-'0')*10+int(rest[2]-'0'), n+3
	} else if len(rest) >= 2 && isDigits(rest[:2]) {
		m, n = int(rest[0]-'0')*10+int(rest[1]-'0'), n+2
	}
	if h > 23 || m > 59 {
		return 0, 0, false
	}
	off = h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, n, true
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchText finds the longest of the names, or their three-letter forms,
// at the start of s, ignoring case.
func matchText(s string, names []string) (idx, n int) {
	idx = -1
	for i, name := range names {
		for _, cand := range []string{name, name[:3]} {
			if len(cand) > n && len(s) >= len(cand) && strings.EqualFold(s[:len(cand)], cand) {
				idx, n = i, len(cand)
			}
		}
	}
	return idx, n
}

// instant resolves validated fields to a time: with an offset parsed, that
// offset; else local time in loc, the earlier instant when the local time
// is ambiguous (Joda's rule), an error when it does not exist (a DST gap).
func (f jodaFields) instant(loc *time.Location) (time.Time, error) {
	wall := time.Date(f.year, time.Month(f.month), f.day, f.hour, f.minute, f.second, f.millis*1e6, time.UTC)
	if f.offsetSet {
		return wall.Add(-time.Duration(f.offset) * time.Second), nil
	}
	u := wall.Unix()
	var best time.Time
	found := false
	for _, probe := range []int64{u - 86400, u, u + 86400} {
		_, off := time.Unix(probe, 0).In(loc).Zone()
		cand := wall.Add(-time.Duration(off) * time.Second)
		if _, got := cand.In(loc).Zone(); got != off {
			continue
		}
		if !found || cand.Before(best) {
			best, found = cand, true
		}
	}
	if !found {
		return time.Time{}, fmt.Errorf("local time %s does not exist in time zone %s (daylight saving gap)", wall.Format("2006-01-02T15:04:05"), loc)
	}
	return best, nil
}
