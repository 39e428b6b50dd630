package main_test

import (
	"testing"

	"github.com/ssevents/ssevents/internal/leakcheck"
)

// TestMain checks that no test of the command leaves a goroutine running:
// every hub, client and bench run is shut down by its test.
func TestMain(m *testing.M) { leakcheck.Main(m) }
