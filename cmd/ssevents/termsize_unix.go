//go:build linux || darwin || freebsd || netbsd || openbsd

package main

import (
	"os"
	"syscall"
	"unsafe"
)

// terminalSize asks the terminal f is for its width (the TIOCGWINSZ
// ioctl). ok is false when f is not a terminal (a pipe, a file, /dev/null);
// cols is 0 when the terminal does not know its width.
func terminalSize(f *os.File) (cols int, ok bool) {
	var ws struct{ rows, cols, xpixel, ypixel uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	if errno != 0 {
		return 0, false
	}
	return int(ws.cols), true
}
