package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// config-injection-revision: the test workloads run on the revision under test. In a mesh with several istiod
// revisions (a canary upgrade, revision tags, sail-operator), a namespace picks its injector by label; labelled for
// another revision, or restarted after someone relabelled it, the workloads would be configured by another control
// plane than the one the report names. Read once: labels do not converge by waiting.
var configInjectionRevision = Spec{
	ShortName:   "config-injection-revision",
	Area:        v1alpha1.AreaConfig,
	Description: "injects every test workload by the istiod revision under test",
	Run: func(ctx SpecContext, m *checks.Mesh) {
		table := checks.InjectionTable(m.State)
		AddReportEntry("injection", table)
		GinkgoWriter.Println(table)
		if err := checks.InjectionRevision(ctx, m); err != nil {
			Fail(err.Error())
		}
	},
}
