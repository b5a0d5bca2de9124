package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// progress reports how far a write has read its inputs. On a terminal it
// draws a progress bar per input (bytes read of the file's size; a spinner
// for standard input); otherwise it logs a line when an input starts and
// when it is done, so logs of unattended runs stay readable. Log lines of
// the write (commits) go through logf, which keeps them off the bar.
//
// The bytes read are reported by the goroutine reading the input, which
// may not be the one logging: the state is guarded by mu.
type progress struct {
	w   io.Writer
	tty bool
	mu  struct {
		sync.Mutex
		bar   *progressbar.ProgressBar
		name  string
		start time.Time
		n     int64
	}
}

func newProgress(stderr io.Writer) *progress {
	return &progress{w: stderr, tty: isTTY(stderr)}
}

// input starts reporting an input of size bytes (-1: unknown).
func (p *progress) input(name string, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneLocked()
	p.mu.name, p.mu.start, p.mu.n = name, time.Now(), 0
	if !p.tty {
		if size >= 0 {
			fmt.Fprintf(p.w, "hoodie: reading %s (%d bytes)\n", name, size)
		} else {
			fmt.Fprintf(p.w, "hoodie: reading %s\n", name)
		}
		return
	}
	p.mu.bar = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		progressbar.OptionSpinnerType(14),
	)
}

// read counts n more bytes of the current input.
func (p *progress) read(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.n += int64(n)
	if p.mu.bar != nil {
		_ = p.mu.bar.Add(n)
	}
}

// done finishes the current input.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doneLocked()
}

func (p *progress) doneLocked() {
	if p.mu.name == "" {
		return
	}
	if p.mu.bar != nil {
		_ = p.mu.bar.Finish()
		p.mu.bar = nil
	} else {
		fmt.Fprintf(p.w, "hoodie: read %s: %d bytes in %s\n", p.mu.name, p.mu.n, time.Since(p.mu.start).Round(time.Millisecond))
	}
	p.mu.name = ""
}

// logf prints a log line without tearing the bar: the bar is cleared and
// redrawn below the line.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.bar != nil {
		_ = p.mu.bar.Clear()
	}
	fmt.Fprintf(p.w, format, args...)
	if p.mu.bar != nil {
		_ = p.mu.bar.RenderBlank()
	}
}

// pipelineEvents renders the events of an ingest or cdc run on stderr
// (through prog, which keeps them off its bar) and counts them in m (nil:
// no metrics).
func pipelineEvents(prog *progress, m *metrics, location string) pipeline.EventListener {
	return pipeline.EventListener{
		TableCreated: func(name string) { prog.logf("hoodie: created table %s at %s\n", name, location) },
		TableRemoved: func() {
			prog.logf("hoodie: nothing was committed: removed the table this run created at %s\n", location)
		},
		InputSkipped: func(path, reason string) { prog.logf("hoodie: skipped %s: %s\n", path, reason) },
		InputStarted: prog.input,
		InputRead:    prog.read,
		InputsDone:   prog.done,
		Note: func(n pipeline.Note) {
			prefix := ""
			switch n.Severity {
			case pipeline.Notice:
				prefix = "note: "
			case pipeline.Warning:
				prefix = "warning: "
			}
			prog.logf("hoodie: %s%s\n", prefix, n.Text)
		},
		Buffered:         m.read,
		Rejected:         func(rows []pipeline.RejectedRow) { m.bad(int64(len(rows))) },
		TombstoneSkipped: m.tombstone,
		Committed: func(res *writer.CommitResult) {
			m.committed(res)
			s := res.Stats
			prog.logf("hoodie: committed %s: %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined (%s)\n",
				res.Instant, s.Inserts, s.Updates, s.Deletes, s.LateDropped, s.Duplicates, s.Duration.Round(time.Millisecond))
		},
		CommitFailed: func(error) { m.commitFailed() },
	}
}
