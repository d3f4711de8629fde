package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// The Ginkgo tree: one container per area (labelled with the area), one It per catalogued spec.
var _ = declare(Catalogue)

// declare generates the Ginkgo nodes of specs. Containers' bodies run when Ginkgo builds the tree (inside RunSpecs,
// after Prepare), so the spec timeout follows the configured suite timeout.
func declare(specs []Spec) bool {
	for i, area := range v1alpha1.Areas {
		// Ginkgo shuffles top-level containers; a priority per area keeps them in Areas order, so the disruptive
		// areas run after every other spec has seen the mesh as installed.
		Describe(AreaTitles[area], Label(area.Label()), SpecPriority(len(v1alpha1.Areas)-i), func() {
			for _, s := range specs {
				if s.Area == area {
					s.declare()
				}
			}
		})
	}
	return true
}

// declare is the spec's It: its labels (Ginkgo's Serial label before the short name, so JUnit names, which leave
// the short name out, read as before), and a body that first applies the spec's rule.
func (s Spec) declare() {
	labels := s.Labels()
	args := []any{s.location, Label(labels[:len(labels)-1]...)}
	if s.Serial || s.Disruptive {
		args = append(args, Serial)
	}
	args = append(args, Label(labels[len(labels)-1]), func(ctx SpecContext) {
		skip(s.applies(mesh))
		s.Run(ctx, mesh)
	}, specTimeout())
	It(s.Description, args...)
}
