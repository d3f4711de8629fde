package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// authz-allow-principal: an AuthorizationPolicy on the echo servers, in every primary, allowing only the client's
// SPIFFE principal lets calls through from every cluster to every cluster (mTLS, the caller's identity); one allowing
// only another principal refuses them all (so the first did not pass by not being enforced); removed, calls cross
// again.
var authzAllowPrincipal = Spec{
	ShortName:   "authz-allow-principal",
	Area:        v1alpha1.AreaAuthz,
	Description: "lets cross-cluster calls through a policy allowing only the client's principal, and refuses them under one allowing another",
	Disruptive:  true,
	Applies:     authzApplies,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		sources := callers(m)
		requireMutualTLS(ctx, m)
		client := workload.Principal(m.ClientIdentity())
		By("allowing only " + client + " to call the echo servers, in every primary")
		restore := applyAuthz(ctx, m, workload.AllowPrincipals, client)
		crossMutually(ctx, m, sources)

		other := workload.Principal(workload.Identity(m.TrustDomain, m.Namespace, "meshconform-nobody"))
		By("allowing only " + other + ": the client's calls must be refused everywhere")
		applyAuthz(ctx, m, workload.AllowPrincipals, other)
		denied(ctx, m, sources)

		By("removing the policy")
		restore(ctx)
		crossMutually(ctx, m, sources)
	},
}
