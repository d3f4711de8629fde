package checks

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/framework/workload"
)

// A rule not applied because a user's would decide instead is a final diagnosis naming the object and how to see
// it; other errors pass through.
func TestPolicyConflict(t *testing.T) {
	ce := &workload.ConflictError{Cluster: "cluster1", Ours: "DestinationRule echo/mtls-x (tls ISTIO_MUTUAL)", Conflicts: []workload.Rule{
		{Kind: "DestinationRule", Namespace: "echo", Name: "user-client", Sets: "host echo, workloadSelector app=client", Why: "selects the client pods"}}}
	err := PolicyConflict(v1alpha1.AreaTrust, fmt.Errorf("wrapped: %w", ce))
	var f *Failure
	if !errors.As(err, &f) || !f.Final || f.Check != "trust" {
		t.Fatalf("%v", err)
	}
	for _, w := range []string{"cluster1: not applying DestinationRule echo/mtls-x", "DestinationRule echo/user-client (host echo, workloadSelector app=client): selects the client pods"} {
		if !strings.Contains(f.Observed, w) {
			t.Errorf("observed %q lacks %q", f.Observed, w)
		}
	}
	if len(f.Inspect) != 1 || f.Inspect[0] != "kubectl --context cluster1 -n echo get destinationrule user-client -o yaml" {
		t.Errorf("inspect %v", f.Inspect)
	}
	if strings.Contains(f.Error(), "not using Istio mTLS") {
		t.Errorf("the conflict is diagnosed as a client without mTLS: %v", f)
	}
	plain := errors.New("boom")
	if PolicyConflict(v1alpha1.AreaTrust, plain) != plain {
		t.Error("other errors must pass through")
	}
}
