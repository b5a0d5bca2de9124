//go:build unix && !linux

package s3server

import "syscall"

// sysProcAttr puts the server in its own process group so stop can signal
// the whole group. Without Pdeathsig a test binary killed before its
// cleanup leaves the server running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup signals the server's process group.
func killGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
