//go:build !linux

package main

import "syscall"

// hubProcAttr is nil where there is no parent-death signal.
func hubProcAttr() *syscall.SysProcAttr { return nil }
