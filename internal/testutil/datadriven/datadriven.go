// Package datadriven runs data-driven tests in the style of pebble's
// testdata/ files (cockroachdb/datadriven, reduced to what hoodie's tests
// use): a file is a sequence of directives, each a command line, optional
// input lines, a "----" separator and the expected output, ended by a blank
// line.
//
//	# A comment.
//	commit w=w1 keys=(a,b)
//	a k1 1 10
//	----
//	put .hoodie/<T1>.commit if-absent
//
// An output that holds blank lines is written between a doubled separator:
//
//	cmd
//	----
//	----
//	line
//
//	line after a blank one
//	----
//	----
//
// Run with -rewrite (go test ./pkg -rewrite) to write the actual outputs
// into the files instead of comparing.
package datadriven

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of data-driven test files")

// Arg is one argument of a command line: key, or key=value, or
// key=(v1,v2,...).
type Arg struct {
	Key  string
	Vals []string
}

// TestData is one directive of a file.
type TestData struct {
	Pos      string // file:line of the command, for messages
	Cmd      string
	CmdArgs  []Arg
	Input    string // the lines between the command and the separator
	Expected string // the output in the file
}

// HasArg reports whether the command has an argument key.
func (d *TestData) HasArg(key string) bool {
	_, ok := d.arg(key)
	return ok
}

// Arg returns the first value of argument key, or def when it is absent
// or has no value.
func (d *TestData) Arg(key, def string) string {
	if a, ok := d.arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return def
}

// Vals returns the values of argument key (nil when absent).
func (d *TestData) Vals(key string) []string {
	a, _ := d.arg(key)
	return a.Vals
}

func (d *TestData) arg(key string) (Arg, bool) {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return a, true
		}
	}
	return Arg{}, false
}

// Fatalf fails the test naming the directive's position.
func (d *TestData) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: %s: %s", d.Pos, d.Cmd, fmt.Sprintf(format, args...))
}

// RunTest runs the directives of the file at path through f, comparing
// each output with the expected one, or, with -rewrite, writing the
// outputs back into the file.
func RunTest(t *testing.T, path string, f func(t *testing.T, d *TestData) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("datadriven: %v", err)
	}
	chunks, err := parse(path, string(b))
	if err != nil {
		t.Fatalf("datadriven: %v", err)
	}
	var out strings.Builder
	for _, c := range chunks {
		if c.d == nil {
			out.WriteString(c.text)
			continue
		}
		got := f(t, c.d)
		if t.Failed() && !*rewrite {
			return
		}
		if *rewrite {
			out.WriteString(c.text)
			writeOutput(&out, got)
			continue
		}
		if normalizeOutput(got) != c.d.Expected {
			t.Fatalf("%s: %s\nexpected:\n%s\ngot:\n%s", c.d.Pos, c.d.Cmd, c.d.Expected, normalizeOutput(got))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatalf("datadriven: %v", err)
		}
	}
}

// normalizeOutput ends a non-empty output with exactly one newline.
func normalizeOutput(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return s + "\n"
}

func writeOutput(b *strings.Builder, got string) {
	got = normalizeOutput(got)
	if strings.Contains(got, "\n\n") {
		b.WriteString("----\n----\n" + got + "----\n----\n\n")
		return
	}
	b.WriteString("----\n" + got + "\n")
}

// chunk is a directive (d set; text is its command and input lines) or
// text between directives (comments, blank lines), kept for -rewrite.
type chunk struct {
	text string
	d    *TestData
}

func parse(path, s string) ([]chunk, error) {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []chunk
	for i := 0; i < len(lines); {
		line := strings.TrimRight(lines[i], "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			out = append(out, chunk{text: lines[i]})
			i++
			continue
		}
		d := &TestData{Pos: fmt.Sprintf("%s:%d", path, i+1)}
		var err error
		if d.Cmd, d.CmdArgs, err = parseCommand(line); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Pos, err)
		}
		text := lines[i]
		i++
		var input []string
		for ; i < len(lines) && strings.TrimRight(lines[i], "\n") != "----"; i++ {
			text += lines[i]
			input = append(input, strings.TrimRight(lines[i], "\n"))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: no ---- separator", d.Pos)
		}
		d.Input = strings.Join(input, "\n")
		i++ // the separator
		var expected []string
		if i < len(lines) && strings.TrimRight(lines[i], "\n") == "----" {
			// Doubled separator: up to the next "----\n----".
			for i++; i+1 < len(lines) && !(strings.TrimRight(lines[i], "\n") == "----" && strings.TrimRight(lines[i+1], "\n") == "----"); i++ {
				expected = append(expected, strings.TrimRight(lines[i], "\n"))
			}
			if i+1 >= len(lines) {
				return nil, fmt.Errorf("%s: no closing ----/---- separator", d.Pos)
			}
			i += 2
			if i < len(lines) && strings.TrimRight(lines[i], "\n") == "" {
				i++ // the blank line ending the directive
			}
		} else {
			for ; i < len(lines) && strings.TrimRight(lines[i], "\n") != ""; i++ {
				expected = append(expected, strings.TrimRight(lines[i], "\n"))
			}
			if i < len(lines) {
				i++ // the blank line ending the directive
			}
		}
		d.Expected = normalizeOutput(strings.Join(expected, "\n"))
		out = append(out, chunk{text: text, d: d})
	}
	return out, nil
}

// parseCommand splits "cmd a b=1 c=(x,y)" into the command and arguments.
func parseCommand(line string) (string, []Arg, error) {
	var fields []string
	depth, start := 0, -1
	for i, r := range line + " " {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ' ' && depth == 0:
			if start >= 0 {
				fields = append(fields, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return "", nil, fmt.Errorf("unbalanced parentheses in %q", line)
	}
	var args []Arg
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		a := Arg{Key: k}
		if ok {
			if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
				for _, x := range strings.Split(v[1:len(v)-1], ",") {
					a.Vals = append(a.Vals, strings.TrimSpace(x))
				}
			} else {
				a.Vals = []string{v}
			}
		}
		args = append(args, a)
	}
	return fields[0], args, nil
}
