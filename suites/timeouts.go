package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/timeouts"
)

// Timeouts bound every wait of the suites (and of the rest of meshconform: framework/timeouts). Each of the suites'
// waits is how long a spec keeps retrying a check that can converge (sync, endpoints, addresses) before it fails
// with the check's last diagnosis. Zero means the default.
type Timeouts = timeouts.Timeouts

// DefaultTimeouts and MaxTimeouts are framework/timeouts' defaults and maxima.
var (
	DefaultTimeouts = timeouts.Default
	MaxTimeouts     = timeouts.Max
)

// specTimeout bounds one spec by the suite's timeout: the waits inside a spec are bounded by the other Timeouts, and
// a fixed per-spec number would cut a spec short when a user raises them.
func specTimeout() SpecTimeout {
	if cfg.Timeouts.Suite > 0 {
		return SpecTimeout(cfg.Timeouts.Suite)
	}
	return SpecTimeout(DefaultTimeouts.Suite)
}
