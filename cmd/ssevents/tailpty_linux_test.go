package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY returns the terminal side of a new pseudo-terminal whose width is
// cols, closed when the test ends.
func openPTY(t *testing.T, cols uint16) *os.File {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	ioctl := func(f *os.File, req uintptr, arg unsafe.Pointer) {
		t.Helper()
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
			t.Fatalf("ioctl %#x: %v", req, errno)
		}
	}
	var unlock int32
	ioctl(ptm, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(ptm, syscall.TIOCGPTN, unsafe.Pointer(&n))
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	ws := struct{ rows, cols, x, y uint16 }{rows: 24, cols: cols}
	ioctl(pts, syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
	return pts
}

// TestColourAndWidthOnATerminal: on a terminal, tail colours unless
// NO_COLOR is set to anything, and cuts lines to the terminal's width
// ($COLUMNS when the terminal does not know it).
func TestColourAndWidthOnATerminal(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tty := openPTY(t, 77)
	if !isTerminal(tty) {
		t.Fatal("a pseudo-terminal is not a terminal")
	}
	for _, tt := range []struct {
		noColor string
		want    bool
	}{{"", true}, {"1", false}, {"0", false}, {"false", false}} {
		if got := useColor(tty, env(map[string]string{"NO_COLOR": tt.noColor})); got != tt.want {
			t.Errorf("NO_COLOR=%q: colour %v, want %v", tt.noColor, got, tt.want)
		}
	}
	if got := lineWidth(tty, env(map[string]string{"COLUMNS": "200"})); got != 77 {
		t.Errorf("width %d, want the terminal's 77", got)
	}
	unsized := openPTY(t, 0)
	if got := lineWidth(unsized, env(map[string]string{"COLUMNS": "90"})); got != 90 {
		t.Errorf("width %d with an unsized terminal, want $COLUMNS 90", got)
	}
	if got := lineWidth(unsized, env(nil)); got != defaultLineWidth {
		t.Errorf("width %d with an unsized terminal and no $COLUMNS, want %d", got, defaultLineWidth)
	}
}
