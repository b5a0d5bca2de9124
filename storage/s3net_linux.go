package storage

import (
	"net"
	"syscall"
	"unsafe"
)

// sioCOUTQ is Linux's SIOCOUTQ (TIOCOUTQ): the bytes of a TCP socket's
// send queue the peer has not acknowledged yet.
const sioCOUTQ = 0x5411

// sendQueue returns the bytes c has sent that the peer has not yet
// acknowledged, if the platform can tell.
func sendQueue(c net.Conn) (int, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var q int32
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, sioCOUTQ, uintptr(unsafe.Pointer(&q)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(q), true
}
