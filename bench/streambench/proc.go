package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is one `hoodie stream` process.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error
	termed  bool
}

func startProc(bin string, args []string, logPath string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("streambench: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("streambench: start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, logPath: logPath, log: lf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = lf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// term sends SIGTERM once (a second one would abort the stream).
func (p *proc) term() {
	if !p.termed && !p.exited() {
		p.termed = true
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// stop sends SIGTERM (once) and waits for the process to end (SIGKILL
// after within); it returns an error unless the process exited with
// status 0.
func (p *proc) stop(within time.Duration) error {
	p.term()
	select {
	case <-p.done:
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("streambench: pid %d did not exit within %s of SIGTERM (log %s)", p.cmd.Process.Pid, within, p.logPath)
	}
	if p.err != nil {
		return fmt.Errorf("streambench: pid %d: %w (log %s)\n%s", p.cmd.Process.Pid, p.err, p.logPath, p.tail())
	}
	return nil
}

// stopAll stops every process of ps at once and waits for each.
func stopAll(ps []*proc, within time.Duration) error {
	for _, p := range ps {
		p.term()
	}
	var errs []error
	for _, p := range ps {
		if err := p.stop(within); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// kill ends the process at once (on the way out after an error).
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// usage returns the process's peak RSS (wait4's maxrss) and CPU time, once
// it has ended.
func (p *proc) usage() (rss int64, cpu time.Duration) {
	ps := p.cmd.ProcessState
	if ps == nil {
		return 0, 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return rss, ps.UserTime() + ps.SystemTime()
}

// tail is the end of the process's log.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// errExited is returned when a stream process ends before the run does.
var errExited = errors.New("streambench: a stream process exited early")

// checkAlive returns errExited (with the log's tail) if one of ps ended.
func checkAlive(ps []*proc) error {
	for _, p := range ps {
		if p.exited() {
			return fmt.Errorf("%w: pid %d: %v (log %s)\n%s", errExited, p.cmd.Process.Pid, p.err, p.logPath, p.tail())
		}
	}
	return nil
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
