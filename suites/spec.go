package suites

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
	"github.com/meshconform/meshconform/suites/checks"
)

// Spec is one conformance spec: what it is called and checks, what it exercises and needs, when it applies, and its
// body. Each spec lives in its own file (named after its short name) and is listed once in Catalogue; the Ginkgo tree
// is generated from the catalogue (see tree.go), so a spec's labels and skip messages follow from these fields.
type Spec struct {
	// ShortName is the spec's stable identifier (label "spec:<short name>"): lower-case words joined by hyphens,
	// starting with the area's name. It never changes once published.
	ShortName string
	Area      v1alpha1.Area
	// Description is the Ginkgo spec text under the area's container ("<area title> <description>" is the name in
	// the reports and JUnit): changing it renames the spec for every CI that tracks it.
	Description string
	// Features are the topology features the spec exercises (labels "feature:<f>"; the report lists them per area).
	Features []v1alpha1.Feature
	// Needs are what the spec needs of the machine beyond the topology (labels "needs:<n>").
	Needs []v1alpha1.Need
	// DataPlane, if set, is the only data plane the spec runs on (label "dataplane:<d>"); Applies says why not.
	DataPlane env.DataPlane
	// Disruptive specs break the mesh on purpose and restore it (label "disruptive"); they always run serially.
	Disruptive bool
	// Serial specs change shared state other specs would see (e.g. STRICT mTLS for the echo servers).
	Serial bool
	// Applies decides, from the environment alone, whether the spec runs; nil means it always applies. It is
	// evaluated when the spec starts, after the suite connected to the mesh.
	Applies func(*checks.Mesh) Applicability
	// Run is the body. It may still skip for a reason only running can find, through skip (never Ginkgo's Skip).
	Run func(ctx SpecContext, m *checks.Mesh)

	// location is the spec's catalogue entry: Ginkgo orders specs by code location, so catalogue order is run order.
	location types.CodeLocation
}

// Decision is whether a spec runs.
type Decision int

const (
	// Runs: the spec applies and can run here.
	Runs Decision = iota
	// DoesNotApply: the topology does not have what the spec checks (e.g. one network); it never counts against
	// an area.
	DoesNotApply
	// CannotRun: the spec applies, but this machine cannot run it (e.g. no Envoy image); the area is partial.
	CannotRun
)

func (d Decision) String() string {
	switch d {
	case Runs:
		return "runs"
	case DoesNotApply:
		return "not applicable"
	case CannotRun:
		return "cannot run here"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Applicability is a spec's Decision with its reason.
type Applicability struct {
	Decision Decision
	Reason   string
}

// Applicable says the spec runs.
func Applicable() Applicability { return Applicability{Decision: Runs} }

// NotApplicable says the topology does not have what the spec checks.
func NotApplicable(reason string) Applicability {
	return Applicability{Decision: DoesNotApply, Reason: reason}
}

// CannotRunHere says the spec applies but cannot run on this machine.
func CannotRunHere(reason string) Applicability {
	return Applicability{Decision: CannotRun, Reason: reason}
}

// SkipMessage is the Ginkgo skip message the report classifies by its prefix; empty for a spec that runs.
func (a Applicability) SkipMessage() string {
	switch a.Decision {
	case DoesNotApply:
		return v1alpha1.NotApplicablePrefix + a.Reason
	case CannotRun:
		return v1alpha1.CannotRunHerePrefix + a.Reason
	}
	return ""
}

// skip ends the running spec as not run, for a's reason: the one place a spec skips. It does nothing for a spec
// that runs.
func skip(a Applicability) {
	GinkgoHelper()
	if m := a.SkipMessage(); m != "" {
		Skip(m)
	}
}

// Labels are the spec's Ginkgo labels other than its area (which its container carries), in the order JUnit names
// show them: features, data plane, needs, disruptive, then (always last) the short name.
func (s Spec) Labels() []string {
	var out []string
	for _, f := range s.Features {
		out = append(out, f.Label())
	}
	if s.DataPlane != "" {
		out = append(out, v1alpha1.DataPlaneLabel(string(s.DataPlane)))
	}
	for _, n := range s.Needs {
		out = append(out, n.Label())
	}
	if s.Disruptive {
		out = append(out, v1alpha1.DisruptiveLabel)
	}
	return append(out, v1alpha1.SpecLabel(s.ShortName))
}

// applies is s.Applies on m, Applicable for a spec without a rule.
func (s Spec) applies(m *checks.Mesh) Applicability {
	if s.Disruptive {
		if a := disruptionAllowed(cfg.Disruptive, m); a.Decision != Runs {
			return a
		}
	}
	if s.Applies == nil {
		return Applicable()
	}
	return s.Applies(m)
}

// Disruption says whether disruptive specs run: DisruptionAuto runs them on environments meshconform created and not
// on brought clusters (they are the user's mesh), DisruptionOn and DisruptionOff always and never.
type Disruption string

const (
	DisruptionAuto Disruption = ""
	DisruptionOn   Disruption = "on"
	DisruptionOff  Disruption = "off"
)

// disruptionAllowed is the rule for disruptive specs, before their own Applies.
func disruptionAllowed(d Disruption, m *checks.Mesh) Applicability {
	switch d {
	case DisruptionOn:
		return Applicable()
	case DisruptionOff:
		return CannotRunHere("disruptive specs are off (--disruptive=false)")
	}
	var brought []string
	for _, c := range m.State.Clusters {
		if !c.Provisioned {
			brought = append(brought, c.Name)
		}
	}
	if len(brought) > 0 {
		return CannotRunHere(fmt.Sprintf("disruptive: it changes the mesh on purpose and restores it, and %s %s brought "+
			"(your mesh), so it runs only with --disruptive", strings.Join(brought, ", "), isAre(len(brought))))
	}
	return Applicable()
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
