package main

import (
	"testing"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
)

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }
