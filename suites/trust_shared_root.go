package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// trust-shared-root: one root across the mesh, as the workloads actually hold it.
var trustSharedRoot = Spec{
	ShortName:   "trust-shared-root",
	Area:        v1alpha1.AreaTrust,
	Description: "gives workloads in every cluster the same root, and certificates that chain to it",
	Run: func(ctx SpecContext, m *checks.Mesh) {
		retry(ctx, cfg.Timeouts.Certs, func() error { return checks.SharedRoot(ctx, m) })
	},
}
