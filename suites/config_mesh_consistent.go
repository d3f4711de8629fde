package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// config-mesh-consistent: the clusters agree on who they are, as each says it itself (its mesh config, network
// label, cluster ID, the root it distributes, its istiod's version), not as meshconform asked. Read once: a
// configuration does not converge by waiting.
var configMeshConsistent = Spec{
	ShortName:   "config-mesh-consistent",
	Area:        v1alpha1.AreaConfig,
	Description: "has every cluster agree on mesh ID, trust domain, root and distinct cluster IDs",
	Run: func(ctx SpecContext, m *checks.Mesh) {
		table, err := checks.ConfigConsistent(ctx, m)
		if table != "" {
			AddReportEntry("mesh configuration", table)
			GinkgoWriter.Println(table)
		}
		if err != nil {
			Fail(err.Error())
		}
	},
}
