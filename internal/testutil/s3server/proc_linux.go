package s3server

import "syscall"

// sysProcAttr puts the server in its own process group (so stop can signal
// the whole group) and has the kernel kill it if the test binary dies
// without running its cleanup.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup signals the server's process group.
func killGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
