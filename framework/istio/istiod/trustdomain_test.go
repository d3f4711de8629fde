package istiod

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestTrustDomains(t *testing.T) {
	td, err := ParseTrustDomains("defaultConfig: {}\n")
	if err != nil || td.TrustDomain != "cluster.local" || len(td.Aliases) != 0 {
		t.Errorf("unset: %+v %v, want Istio's default cluster.local", td, err)
	}
	td, err = ParseTrustDomains("trustDomain: a.local\ntrustDomainAliases: [b.local]\n")
	if err != nil || td.TrustDomain != "a.local" || !slices.Equal(td.Aliases, []string{"b.local"}) {
		t.Errorf("set: %+v %v", td, err)
	}
	if !td.Accepts("a.local") || !td.Accepts("b.local") || td.Accepts("c.local") {
		t.Errorf("accepts: %+v", td)
	}
	if _, err := ParseTrustDomains("trustDomain: ["); err == nil {
		t.Error("malformed mesh config accepted")
	}
}

func TestTrustDomainEdits(t *testing.T) {
	doc := map[string]any{}
	if err := yaml.Unmarshal([]byte("trustDomain: cluster.local\ntrustDomainAliases: [old.local]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := SetTrustDomain("foreign.local")(doc); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][]string{{"x.local", "old.local"}, {"x.local"}} {
		if err := AddTrustDomainAliases(a...)(doc); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := yaml.Marshal(doc)
	td, err := ParseTrustDomains(string(b))
	if err != nil || td.TrustDomain != "foreign.local" || !slices.Equal(td.Aliases, []string{"old.local", "x.local"}) {
		t.Errorf("edited: %+v %v (%s)", td, err, b)
	}
	if SetTrustDomain("")(doc) == nil {
		t.Error("an empty trust domain was accepted")
	}
}
