//go:build !conformance

package suites

import (
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

func TestTimeoutsDefaultsAndMaxima(t *testing.T) {
	got, err := Timeouts{Sync: 5 * time.Minute}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Sync != 5*time.Minute || got.Probe != DefaultTimeouts.Probe || got.Suite != DefaultTimeouts.Suite {
		t.Errorf("defaults not applied: %+v", got)
	}
	for _, tc := range []struct {
		in   Timeouts
		want string
	}{
		{Timeouts{Sync: 11 * time.Minute}, "timeouts.sync 11m0s: above the maximum 10m0s"},
		{Timeouts{Probe: -time.Second}, "timeouts.probe -1s: must not be negative"},
		{Timeouts{Suite: 3 * time.Hour}, "timeouts.suite"},
	} {
		if _, err := tc.in.WithDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A dry run walks the spec tree without clusters: every spec must carry exactly one known area label, and specs that
// need Envoy must say so.
func TestSpecTreeLabels(t *testing.T) {
	var report types.Report
	afterSuite = append(afterSuite, func(r Report) { report = r })
	sc, rc := GinkgoConfiguration()
	sc.DryRun = true
	rc.Succinct = true
	RunSpecs(t, "spec tree (dry run)", sc, rc)

	known := map[string]bool{}
	for _, a := range v1alpha1.Areas {
		known["area:"+string(a)] = true
	}
	perArea := map[string]int{}
	specs := 0
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		specs++
		var areas []string
		for _, l := range s.Labels() {
			if strings.HasPrefix(l, "area:") {
				areas = append(areas, l)
			}
		}
		if len(areas) != 1 || !known[areas[0]] {
			t.Errorf("%q has area labels %v, want exactly one of %v", s.FullText(), areas, v1alpha1.Areas)
			continue
		}
		perArea[areas[0]]++
	}
	for a := range known {
		if perArea[a] == 0 {
			t.Errorf("no spec for %s", a)
		}
	}
	// The tree is the catalogue: one It per spec, under its area's title, with the declared labels (the area's from
	// the container, then the spec's own, then Serial where it must run alone).
	bySpecLabel := map[string]Spec{}
	for _, s := range Catalogue {
		bySpecLabel[v1alpha1.SpecLabel(s.ShortName)] = s
	}
	seen := map[string]bool{}
	for _, r := range report.SpecReports {
		if r.LeafNodeType != types.NodeTypeIt {
			continue
		}
		var s Spec
		for _, l := range r.Labels() {
			if c, ok := bySpecLabel[l]; ok {
				s = c
			}
		}
		if s.ShortName == "" {
			t.Errorf("%q carries no catalogued spec: label (labels %v)", r.FullText(), r.Labels())
			continue
		}
		seen[s.ShortName] = true
		if want := AreaTitles[s.Area] + " " + s.Description; r.FullText() != want {
			t.Errorf("spec:%s is %q, want %q", s.ShortName, r.FullText(), want)
		}
		own := s.Labels()
		want := append([]string{s.Area.Label()}, own[:len(own)-1]...)
		if s.Serial || s.Disruptive {
			want = append(want, "Serial")
		}
		want = append(want, v1alpha1.SpecLabel(s.ShortName))
		if !slices.Equal(r.Labels(), want) || r.IsSerial != (s.Serial || s.Disruptive) {
			t.Errorf("spec:%s: labels %v serial %v, want %v", s.ShortName, r.Labels(), r.IsSerial, want)
		}
	}
	if len(seen) != len(Catalogue) {
		t.Errorf("%d of %d catalogued specs in the tree", len(seen), len(Catalogue))
	}
	// Within an area, the run order is the catalogue's.
	var order []string
	for _, r := range report.SpecReports {
		for _, l := range r.Labels() {
			if _, ok := bySpecLabel[l]; ok && r.ContainerHierarchyTexts[0] == AreaTitles[v1alpha1.AreaDiscovery] {
				order = append(order, bySpecLabel[l].ShortName)
			}
		}
	}
	if want := []string{"discovery-synced", "discovery-same-network-endpoints", "discovery-cross-network-gateway"}; !slices.Equal(order, want) {
		t.Errorf("discovery runs %v, want the catalogue's order %v", order, want)
	}
	if specs < 9 {
		t.Errorf("only %d specs in the tree", specs)
	}
	// Across areas the run order is Areas' (Ginkgo would shuffle the containers): the disruptive areas run last.
	rank := map[string]int{}
	for i, a := range v1alpha1.Areas {
		rank[AreaTitles[a]] = i
	}
	last := -1
	for _, r := range report.SpecReports {
		if r.LeafNodeType != types.NodeTypeIt {
			continue
		}
		i := rank[r.ContainerHierarchyTexts[0]]
		if i < last {
			t.Errorf("%q runs after an area listed later than its own", r.FullText())
		}
		last = i
	}
}
