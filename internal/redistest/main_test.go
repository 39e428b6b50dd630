package redistest_test

import (
	"testing"

	"github.com/ssevents/ssevents/internal/leakcheck"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) { leakcheck.Main(m) }
