package suites

import (
	"strings"
	"testing"
)

func TestSelected(t *testing.T) {
	names := func(specs []Spec) string {
		var out []string
		for _, s := range specs {
			out = append(out, s.ShortName)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		filter string
		focus  []string
		want   string
	}{
		{"spec:doc-fidelity-helloworld", nil, "doc-fidelity-helloworld"},
		{"needs:envoy", nil, "gateway-ports,doc-fidelity-helloworld,authz-foreign-trust-domain"},
		{"area:trust", nil, "trust-shared-root,trust-mutual-tls"},
		{"dataplane:sidecar", nil, "doc-fidelity-helloworld,authz-foreign-trust-domain"},
		{"!needs:envoy && area:gateway", nil, "gateway-address,gateway-istiod-reachable"},
		{"", []string{"toggles helloworld"}, "doc-fidelity-helloworld"},
		{"", []string{"^Trust ", "^Network isolation"}, "trust-shared-root,trust-mutual-tls,isolation-pods,isolation-nodes"},
		{"area:trust", []string{"SPIFFE"}, "trust-mutual-tls"},
		{"spec:no-such-spec", nil, ""},
	} {
		got, err := Selected(c.filter, c.focus)
		if err != nil || names(got) != c.want {
			t.Errorf("Selected(%q, %q) = %s, %v; want %s", c.filter, c.focus, names(got), err, c.want)
		}
	}
	if all, err := Selected("", nil); err != nil || len(all) != len(Catalogue) {
		t.Errorf("no filter: %d specs, %v; want the catalogue's %d", len(all), err, len(Catalogue))
	}
	for _, bad := range [][2]string{{"area:(trust", ""}, {"", "("}} {
		var focus []string
		if bad[1] != "" {
			focus = []string{bad[1]}
		}
		if _, err := Selected(bad[0], focus); err == nil {
			t.Errorf("Selected(%q, %q): no error", bad[0], focus)
		}
	}
}
