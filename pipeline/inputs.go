package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/internal/ingest"
)

// Format is an input format of Ingest.
type Format string

// Formats. "json" and "ndjson" are accepted for FormatJSONL.
const (
	// FormatAuto takes each file's format from its extension (looking
	// through .gz, .zst and .zstd); standard input is JSON.
	FormatAuto Format = ""
	// FormatJSONL is JSON Lines, or one JSON array of objects (possibly
	// pretty-printed).
	FormatJSONL   Format = "jsonl"
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
)

// parse returns the reader's format; FormatUnknown for FormatAuto.
func (f Format) parse() (ingest.Format, error) {
	if f == FormatAuto {
		return ingest.FormatUnknown, nil
	}
	return ingest.ParseFormat(string(f))
}

// source is one input to read.
type source struct {
	path   string // "-" for stdin
	format ingest.Format
}

// skippedInput is a file of a directory that is not read, and why.
type skippedInput struct{ path, reason string }

// hiddenName reports names Hadoop and Spark treat as hidden.
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// compressedExt reports a compression extension (.gz, .zst, .zstd).
func compressedExt(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".gz", ".zst", ".zstd":
		return true
	}
	return false
}

const compressedParquet = "a compressed Parquet file (Parquet compresses its own pages; decompress it to ingest it)"

// expandInputs lists the inputs: files as given, directories walked (in
// name order) for their input files; the files of directories that are
// not read come back as skipped, with the reason. forced is the format of
// every input (FormatUnknown: by extension, JSON for stdin).
func expandInputs(inputs []string, forced ingest.Format) ([]source, []skippedInput, error) {
	var out []source
	var skipped []skippedInput
	for _, in := range inputs {
		if in == "-" {
			f := forced
			if f == ingest.FormatUnknown {
				f = ingest.JSONL
			}
			out = append(out, source{path: "-", format: f})
			continue
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", in, err)
		}
		if !st.IsDir() {
			src, err := fileSource(in, forced)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, src)
			continue
		}
		files, skip, err := walkInputDir(in, forced)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, files...)
		skipped = append(skipped, skip...)
	}
	return out, skipped, nil
}

// fileSource is an input file named as an input.
func fileSource(in string, forced ingest.Format) (source, error) {
	f := forced
	if f == ingest.FormatUnknown {
		var err error
		if f, err = ingest.FormatOf(in); err != nil {
			return source{}, err
		}
	}
	if f == ingest.Parquet && compressedExt(in) {
		return source{}, fmt.Errorf("input %s: %s", in, compressedParquet)
	}
	return source{path: in, format: f}, nil
}

// walkInputDir lists the input files of a directory in name order, and the
// files and directories it skips.
func walkInputDir(in string, forced ingest.Format) ([]source, []skippedInput, error) {
	var files []source
	var skipped []skippedInput
	err := filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != in && hiddenName(d.Name()) {
				skipped = append(skipped, skippedInput{p + string(filepath.Separator), "hidden directory"})
				return filepath.SkipDir
			}
			return nil
		}
		if hiddenName(d.Name()) {
			skipped = append(skipped, skippedInput{p, "hidden file"})
			return nil
		}
		f := forced
		if f == ingest.FormatUnknown {
			var ferr error
			if f, ferr = ingest.FormatOf(p); ferr != nil {
				skipped = append(skipped, skippedInput{p, ingest.ErrUnknownFormat.Error() + " (by its extension; --format reads every file as one format)"})
				return nil
			}
		}
		if f == ingest.Parquet && compressedExt(p) {
			skipped = append(skipped, skippedInput{p, compressedParquet})
			return nil
		}
		files = append(files, source{path: p, format: f})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("input %s: %w", in, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, skipped, nil
}

// listInputs expands the inputs, reports the skipped files, and fails when
// nothing is left to read.
func (c *common) listInputs(forced ingest.Format) ([]source, int, error) {
	sources, skipped, err := expandInputs(c.inputs, forced)
	if err != nil {
		return nil, 0, err
	}
	for _, s := range skipped {
		if c.ev.InputSkipped != nil {
			c.ev.InputSkipped(s.path, s.reason)
		}
	}
	if len(sources) == 0 {
		return nil, 0, fmt.Errorf("no input files (%d skipped)", len(skipped))
	}
	return sources, len(skipped), nil
}

// displayName is how messages name an input.
func displayName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// readCounter reports the bytes read through it to the listener.
type readCounter struct {
	r  io.Reader
	fn func(n int)
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(n)
	}
	return n, err
}

// started reports that reading an input of size bytes (-1: unknown)
// begins, and returns r counting for InputRead.
func (c *common) started(name string, size int64, r io.Reader) io.Reader {
	if c.ev.InputStarted != nil {
		c.ev.InputStarted(name, size)
	}
	if c.ev.InputRead == nil {
		return r
	}
	return &readCounter{r: r, fn: c.ev.InputRead}
}

// openInput opens an input for reading: the file, or Stdin for "-", with
// its size (-1 when unknown). close closes the file (not Stdin).
func (c *common) openInput(path string) (r io.Reader, f *os.File, size int64, err error) {
	if path == "-" {
		return c.stdin, nil, -1, nil
	}
	if f, err = os.Open(path); err != nil {
		return nil, nil, 0, err
	}
	size = -1
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return f, f, size, nil
}

// openSource opens an input for the ingest readers: decompressed (gzip,
// zstd) unless Parquet, reported to the listener when report is set.
func (c *common) openSource(src source, opts ingest.Options, report bool) (ingest.Reader, func(), error) {
	raw, f, size, err := c.openInput(src.path)
	if err != nil {
		return nil, nil, err
	}
	closeFile := func() {
		if f != nil {
			f.Close()
		}
	}
	if src.format == ingest.Parquet { // read by offset, not streamed
		r, err := openParquet(f, size, src.path, opts)
		if err != nil {
			closeFile()
			return nil, nil, err
		}
		return r, func() { r.Close(); closeFile() }, nil
	}
	if report {
		raw = c.started(displayName(src.path), size, raw)
	}
	dec, _, err := ingest.Decompress(raw)
	if err != nil {
		closeFile()
		return nil, nil, fmt.Errorf("%s: %w", displayName(src.path), err)
	}
	var r ingest.Reader
	switch src.format {
	case ingest.CSV:
		r, err = ingest.NewCSV(dec, src.path, opts)
	default:
		r, err = ingest.NewJSONL(dec, src.path, opts)
	}
	if err != nil {
		dec.Close()
		closeFile()
		return nil, nil, err
	}
	return r, func() { r.Close(); dec.Close(); closeFile() }, nil
}

// openParquet opens a Parquet input file (f is nil for standard input,
// which Parquet cannot be read from).
func openParquet(f *os.File, size int64, name string, opts ingest.Options) (ingest.Reader, error) {
	switch {
	case f == nil:
		return nil, fmt.Errorf("parquet input needs a file, not standard input")
	case size == 0:
		return nil, fmt.Errorf("%w: %s is 0 bytes", ingest.ErrEmpty, name)
	}
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	if ingest.IsCompressed(head[:n]) {
		return nil, fmt.Errorf("%s: %s", name, compressedParquet)
	}
	return ingest.NewParquet(f, size, name, opts)
}
