package main

import (
	"strings"
	"testing"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites"
)

// A bad --label-filter answers with the labels specs carry, from the one vocabulary and the catalogue.
func TestLabelFilterErrorListsTheLabels(t *testing.T) {
	_, err := (&testFlags{labelFilter: "area:(", falseAlarm: 1e-6}).config(t.TempDir())
	if err == nil {
		t.Fatal("a malformed label filter was accepted")
	}
	want := []string{"area:<trust|discovery|gateway|loadbalancing|isolation|doc-fidelity|config|failover|scoping|lifecycle|authz>",
		"feature:<multi-network|primary-remote|isolated-networking>", "dataplane:sidecar", "needs:<envoy>"}
	for _, s := range suites.Catalogue {
		want = append(want, s.ShortName)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if len(v1alpha1.Areas) != 11 {
		t.Errorf("areas %v: update the expected list", v1alpha1.Areas)
	}
}
