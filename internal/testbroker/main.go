package testbroker

import (
	"os"
	"sync"
	"testing"
)

var (
	exitMu    sync.Mutex
	exitFuncs []func(failed bool)
)

// atExit registers fn to run when Main returns from m.Run, in reverse order
// of registration; failed tells whether a test failed (a broker's files are
// then kept for the post-mortem).
func atExit(fn func(failed bool)) {
	exitMu.Lock()
	defer exitMu.Unlock()
	exitFuncs = append(exitFuncs, fn)
}

// Main runs the tests of a package that uses this package's brokers and
// stops every broker they started before the binary exits. Use it as the
// package's TestMain:
//
//	func TestMain(m *testing.M) { testbroker.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Shutdown(code != 0)
	os.Exit(code)
}

// Shutdown stops every broker the tests started: for a TestMain that has
// more to do than Main. failed keeps the brokers' files for the
// post-mortem.
func Shutdown(failed bool) {
	exitMu.Lock()
	fns := exitFuncs
	exitFuncs = nil
	exitMu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i](failed)
	}
}
