package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports how far a write has read its inputs. On a terminal it
// draws a progress bar per input (bytes read of the file's size; a spinner
// for standard input); otherwise it logs a line when an input starts and
// when it is done, so logs of unattended runs stay readable. Log lines of
// the write (commits) go through logf, which keeps them off the bar.
type progress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	name  string
	start time.Time
	n     countingWriter
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func newProgress(stderr io.Writer) *progress {
	return &progress{w: stderr, tty: isTTY(stderr)}
}

// input starts reporting an input of size bytes (-1: unknown) and returns
// r wrapped to count what is read.
func (p *progress) input(name string, size int64, r io.Reader) io.Reader {
	p.done()
	p.name, p.start, p.n = name, time.Now(), countingWriter{}
	if !p.tty {
		if size >= 0 {
			fmt.Fprintf(p.w, "hoodie: reading %s (%d bytes)\n", name, size)
		} else {
			fmt.Fprintf(p.w, "hoodie: reading %s\n", name)
		}
		return io.TeeReader(r, &p.n)
	}
	p.bar = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		progressbar.OptionSpinnerType(14),
	)
	return io.TeeReader(io.TeeReader(r, &p.n), p.bar)
}

// done finishes the current input.
func (p *progress) done() {
	if p.name == "" {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	} else {
		fmt.Fprintf(p.w, "hoodie: read %s: %d bytes in %s\n", p.name, p.n.n, time.Since(p.start).Round(time.Millisecond))
	}
	p.name = ""
}

// logf prints a log line without tearing the bar: the bar is cleared and
// redrawn below the line.
func (p *progress) logf(format string, args ...any) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
	if p.bar != nil {
		_ = p.bar.RenderBlank()
	}
}
