package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
	"github.com/meshconform/meshconform/suites/checks"
)

// authz-deny-principal: an AuthorizationPolicy on the echo servers, in every primary, denying the client's SPIFFE
// principal refuses (PermissionDenied) every call from every cluster, whichever cluster it is sent to; removed, calls
// cross again. A cluster answering is diagnosed: the policy missing from the primary configuring it (asymmetric), not
// selecting its pods, or there and not enforced by its data plane.
var authzDenyPrincipal = Spec{
	ShortName:   "authz-deny-principal",
	Area:        v1alpha1.AreaAuthz,
	Description: "refuses every cross-cluster call under a policy denying the client's principal, and lets them through once it is removed",
	Disruptive:  true,
	Applies:     authzApplies,
	Run: func(ctx SpecContext, m *checks.Mesh) {
		sources := callers(m)
		requireMutualTLS(ctx, m)
		client := workload.Principal(m.ClientIdentity())
		By("denying " + client + " at the echo servers, in every primary")
		restore := applyAuthz(ctx, m, workload.DenyPrincipals, client)
		denied(ctx, m, sources)

		By("removing the policy")
		restore(ctx)
		crossMutually(ctx, m, sources)
	},
}
