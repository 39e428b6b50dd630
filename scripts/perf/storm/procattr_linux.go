package main

import "syscall"

// hubProcAttr makes a hub die with the tool, so that an interrupted run
// leaves no hub behind holding its port.
func hubProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
