package presencetest

import (
	"testing"

	"github.com/ssevents/ssevents/sse"
)

// Case is a conformance test, for this package's tests, which run the
// tests against broken stores.
type Case struct {
	Name  string
	Opts  sse.PresenceOptions
	Cross bool // needs several instances
	Run   func(testing.TB, []sse.PresenceStore)
}

// Cases returns the conformance tests.
func Cases() []Case {
	var out []Case
	for i, list := range [][]suiteCase{singleCases, crossCases} {
		for _, c := range list {
			opts := Options()
			if c.opts != nil {
				c.opts(&opts)
			}
			out = append(out, Case{Name: c.name, Opts: opts, Cross: i == 1, Run: c.run})
		}
	}
	return out
}
