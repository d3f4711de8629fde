package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// discovery-synced: every primary watches every cluster.
var discoverySynced = Spec{
	ShortName:   "discovery-synced",
	Area:        v1alpha1.AreaDiscovery,
	Description: "has every primary's istiod report every cluster synced",
	Run: func(ctx SpecContext, m *checks.Mesh) {
		retry(ctx, cfg.Timeouts.Sync, func() error { return checks.Synced(ctx, m) })
	},
}
