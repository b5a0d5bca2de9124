package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ErrLocked reports an index directory that another open index holds
// (Badger allows one process, and one open database, per directory). The
// message names the directory and, when Badger's LOCK file tells, the
// holding process.
var ErrLocked = errors.New("index: directory in use")

// lockFile is the file in which Badger writes the pid of the process that
// holds the directory lock (it flocks the directory itself).
const lockFile = "LOCK"

// newLockedError builds the ErrLocked error for dir: the holder's pid from
// Badger's LOCK file and, on Linux, its command line.
func newLockedError(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	holder := "another process"
	if b, err := os.ReadFile(filepath.Join(dir, lockFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			holder = "process " + strconv.Itoa(pid)
			switch {
			case pid == os.Getpid():
				holder += " (this process: another index is open on it)"
			default:
				if cmd := commandLine(pid); cmd != "" {
					holder += " (" + cmd + ")"
				}
			}
		}
	}
	return &lockedError{fmt.Sprintf("index: directory %s is in use by %s; use another index directory (--index-dir) or wait for that process to end",
		abs, holder)}
}

// lockedError is an ErrLocked with its own message.
type lockedError struct{ msg string }

func (e *lockedError) Error() string        { return e.msg }
func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// commandLine is the command line of process pid, from
// /proc/<pid>/cmdline (Linux), or "".
func commandLine(pid int) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	args[0] = filepath.Base(args[0])
	s := strings.Join(args, " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// isLockError reports whether err, returned by badger.Open on dir, is
// Badger's directory lock conflict: the directory is flocked by someone
// else right now (or, where flock cannot be probed, Badger said so).
func isLockError(dir string, err error) bool {
	if locked, ok := probeLock(dir); ok {
		return locked
	}
	return strings.Contains(err.Error(), "Cannot acquire directory lock")
}
