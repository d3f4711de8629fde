package suites

import (
	"fmt"
	"reflect"
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// Timeouts bound every wait of the suites. Each is how long a spec keeps retrying a check that can converge (sync,
// endpoints, addresses) before it fails with the check's last diagnosis. Zero means the default.
type Timeouts struct {
	// Sync: every primary reports every cluster synced. Default 2m, max 10m.
	Sync time.Duration `json:"sync"`
	// Certs: workload certificates can be read and verify. Default 1m, max 5m.
	Certs time.Duration `json:"certs"`
	// Discovery: a client's view (and its calls) reach every other cluster after config changes. Default 2m, max 10m.
	Discovery time.Duration `json:"discovery"`
	// Gateway: a gateway has its address and its ports answer. Default 2m, max 10m.
	Gateway time.Duration `json:"gateway"`
	// Probe: one TCP connection attempt. Default 3s, max 30s.
	Probe time.Duration `json:"probe"`
	// WarmUp: uncounted calls until every cluster has answered once, before judged calls. Default 1m, max 5m.
	WarmUp time.Duration `json:"warmUp"`
	// DocFidelity: the install guide's sample becomes Ready and toggles versions. Default 5m, max 15m.
	DocFidelity time.Duration `json:"docFidelity"`
	// Failover: after a cluster's echo pods are drained, calls from every caller stop failing and stop reaching it
	// (and after the restore it answers again). Default 1m, max 5m.
	Failover time.Duration `json:"failover"`
	// Suite: the whole run of the suites. Default 30m, max 2h.
	Suite time.Duration `json:"suite"`
}

// DefaultTimeouts fit a laptop or a 2-core CI runner with kind clusters.
var DefaultTimeouts = Timeouts{Sync: 2 * time.Minute, Certs: time.Minute, Discovery: 2 * time.Minute,
	Gateway: 2 * time.Minute, Probe: 3 * time.Second, WarmUp: time.Minute, DocFidelity: 5 * time.Minute,
	Failover: time.Minute, Suite: 30 * time.Minute}

// MaxTimeouts are the largest values accepted: a wait beyond them hides a broken mesh rather than a slow one.
var MaxTimeouts = Timeouts{Sync: 10 * time.Minute, Certs: 5 * time.Minute, Discovery: 10 * time.Minute,
	Gateway: 10 * time.Minute, Probe: 30 * time.Second, WarmUp: 5 * time.Minute, DocFidelity: 15 * time.Minute,
	Failover: 5 * time.Minute, Suite: 2 * time.Hour}

// WithDefaults fills zero fields from DefaultTimeouts and refuses negative values or values above MaxTimeouts,
// naming the field.
func (t Timeouts) WithDefaults() (Timeouts, error) {
	v, d, mx := reflect.ValueOf(&t).Elem(), reflect.ValueOf(DefaultTimeouts), reflect.ValueOf(MaxTimeouts)
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("json")
		f := v.Field(i)
		cur := time.Duration(f.Int())
		switch {
		case cur < 0:
			return t, fmt.Errorf("timeouts.%s %s: must not be negative", name, cur)
		case cur == 0:
			f.SetInt(d.Field(i).Int())
		case cur > time.Duration(mx.Field(i).Int()):
			return t, fmt.Errorf("timeouts.%s %s: above the maximum %s", name, cur, time.Duration(mx.Field(i).Int()))
		}
	}
	return t, nil
}

// specTimeout bounds one spec by the suite's timeout: the waits inside a spec are bounded by the other Timeouts, and
// a fixed per-spec number would cut a spec short when a user raises them.
func specTimeout() SpecTimeout {
	if cfg.Timeouts.Suite > 0 {
		return SpecTimeout(cfg.Timeouts.Suite)
	}
	return SpecTimeout(DefaultTimeouts.Suite)
}
