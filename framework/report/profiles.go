package report

import (
	"fmt"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// ProfileDefinition declares a conformance profile: the topology shape it applies to and, per support level, the
// features it covers with the specs (by short name) that test each. Package suites declares the profiles
// (profiles.go); Build reports those whose shape the tested topology has, from the specs' outcomes. A profile with no
// spec yet (a reserved one) is never reported.
type ProfileDefinition struct {
	Name  v1alpha1.Profile
	Shape Shape
	// Core features are what every conforming mesh of the shape must pass; Extended features are what it may support.
	Core, Extended []FeatureDefinition
}

// FeatureDefinition is one feature of a profile level and the specs that test it.
type FeatureDefinition struct {
	Name  v1alpha1.ProfileFeature
	Specs []string
}

// Specs are the short names of the profile's specs, core first, in declaration order.
func (d ProfileDefinition) Specs() []string {
	var out []string
	for _, f := range append(append([]FeatureDefinition{}, d.Core...), d.Extended...) {
		out = append(out, f.Specs...)
	}
	return out
}

// Shape is a topology's shape: how many primary clusters, remote clusters and mesh networks it has. As a profile's
// Shape, the numbers are minima: the profile applies to every topology with at least as many of each.
type Shape struct {
	Primaries, Remotes, Networks int
}

// Fits says whether a topology of shape t has at least what s asks for.
func (s Shape) Fits(t Shape) bool {
	return t.Primaries >= s.Primaries && t.Remotes >= s.Remotes && t.Networks >= s.Networks
}

// String describes s as a profile's requirement, e.g. "at least 2 primary clusters".
func (s Shape) String() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(s.Primaries, "primary cluster", "primary clusters")
	add(s.Remotes, "remote cluster", "remote clusters")
	add(s.Networks, "mesh network", "mesh networks")
	if len(parts) == 0 {
		return "any topology"
	}
	return "at least " + strings.Join(parts, " and ")
}

// ShapeOf is the shape of the environment's topology.
func ShapeOf(st *env.State) Shape {
	var s Shape
	for _, c := range st.Clusters {
		switch c.Role {
		case env.RolePrimary:
			s.Primaries++
		case env.RoleRemote:
			s.Remotes++
		}
	}
	s.Networks = len(st.MeshNetworks())
	return s
}

// shapeOfReport is the shape of the topology a report describes.
func shapeOfReport(t v1alpha1.Topology) Shape {
	var s Shape
	networks := map[string]bool{}
	for _, c := range t.Clusters {
		switch env.Role(c.Role) {
		case env.RolePrimary:
			s.Primaries++
		case env.RoleRemote:
			s.Remotes++
		}
		networks[c.Network] = true
	}
	s.Networks = len(networks)
	return s
}

// outcome is how one spec of the run ended, keyed by its short name.
type outcome struct {
	passed, failed bool
	// cause and reason, for a spec that was skipped.
	cause  v1alpha1.SkipCause
	reason string
	flaked bool
}

// notInRun is the outcome of a profile's spec the run does not have at all.
var notInRun = outcome{cause: v1alpha1.SkipNotRun, reason: "not in this run"}

// profileReports reports the profiles of defs whose shape the tested topology has; none without the environment.
func profileReports(defs []ProfileDefinition, st *env.State, outcomes map[string]outcome) []v1alpha1.ProfileReport {
	if st == nil {
		return nil
	}
	shape := ShapeOf(st)
	var out []v1alpha1.ProfileReport
	for _, d := range defs {
		if len(d.Specs()) == 0 || !d.Shape.Fits(shape) {
			continue
		}
		p := v1alpha1.ProfileReport{Name: d.Name, Shape: d.Shape.String(),
			Core: profileLevel(d.Core, true, outcomes), Extended: profileLevel(d.Extended, false, outcomes)}
		p.Result = profileResult(p.Core.Result, p.Extended.Result)
		p.Summary = profileSummary(p)
		out = append(out, p)
	}
	return out
}

func profileLevel(features []FeatureDefinition, core bool, outcomes map[string]outcome) v1alpha1.ProfileLevel {
	l := v1alpha1.ProfileLevel{Specs: []string{}}
	for _, f := range features {
		supported := false
		for _, name := range f.Specs {
			l.Specs = append(l.Specs, name)
			o, ok := outcomes[name]
			if !ok {
				o = notInRun
			}
			switch {
			case o.failed:
				l.Statistics.Failed++
				l.FailedSpecs = append(l.FailedSpecs, name)
				supported = true
			case o.passed:
				l.Statistics.Passed++
				if o.flaked {
					l.Statistics.Flaked++
				}
				supported = true
			case o.cause == v1alpha1.SkipNotApplicable:
				l.Statistics.NotApplicable++
				l.UnsupportedSpecs = append(l.UnsupportedSpecs, v1alpha1.ProfileSkip{Name: name, Cause: o.cause, Reason: o.reason})
			default:
				l.Statistics.Skipped++
				l.SkippedSpecs = append(l.SkippedSpecs, v1alpha1.ProfileSkip{Name: name, Cause: o.cause, Reason: o.reason})
				supported = true
			}
		}
		if supported {
			l.SupportedFeatures = append(l.SupportedFeatures, f.Name)
		} else {
			l.UnsupportedFeatures = append(l.UnsupportedFeatures, f.Name)
		}
	}
	l.Result = levelResult(l.Statistics, core)
	return l
}

// levelResult applies the semantics of v1alpha1.ProfileLevel.
func levelResult(s v1alpha1.Statistics, core bool) v1alpha1.Result {
	switch {
	case s.Failed > 0:
		return v1alpha1.ResultFailure
	case !core && s.Passed == 0 && s.Skipped == 0:
		return v1alpha1.ResultNotApplicable
	case s.Passed == 0:
		return v1alpha1.ResultSkipped
	case s.Skipped > 0, core && s.NotApplicable > 0:
		return v1alpha1.ResultPartial
	default:
		return v1alpha1.ResultSuccess
	}
}

// profileResult applies the semantics of v1alpha1.ProfileReport.
func profileResult(core, extended v1alpha1.Result) v1alpha1.Result {
	extendedFine := extended == v1alpha1.ResultSuccess || extended == v1alpha1.ResultNotApplicable
	switch {
	case core == v1alpha1.ResultFailure:
		return v1alpha1.ResultFailure
	case core == v1alpha1.ResultSuccess && extendedFine:
		return v1alpha1.ResultSuccess
	case core == v1alpha1.ResultSkipped && (extended == v1alpha1.ResultSkipped || extended == v1alpha1.ResultNotApplicable):
		return v1alpha1.ResultSkipped
	default:
		return v1alpha1.ResultPartial
	}
}

// Ran is how many of a level's specs apply (passed, failed or skipped, not unsupported): the y of "x/y passed".
func Ran(s v1alpha1.Statistics) int { return s.Passed + s.Failed + s.Skipped }

func profileSummary(p v1alpha1.ProfileReport) string {
	return "core: " + levelSummary(p.Core, true) + "; extended: " + levelSummary(p.Extended, false)
}

func levelSummary(l v1alpha1.ProfileLevel, core bool) string {
	s := l.Statistics
	var parts []string
	if Ran(s) > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d passed", s.Passed, Ran(s)))
	}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	causes := map[v1alpha1.SkipCause]int{}
	for _, k := range l.SkippedSpecs {
		causes[k.Cause]++
	}
	if n := causes[v1alpha1.SkipCannotRunHere]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d could not run here", n))
	}
	if n := causes[v1alpha1.SkipNotRun]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not run", n))
	}
	if core && s.NotApplicable > 0 {
		parts = append(parts, fmt.Sprintf("%d not applicable", s.NotApplicable))
	}
	if len(l.UnsupportedFeatures) > 0 {
		var names []string
		for _, f := range l.UnsupportedFeatures {
			names = append(names, string(f))
		}
		parts = append(parts, "unsupported: "+strings.Join(names, ", "))
	}
	if len(parts) == 0 {
		return "no specs"
	}
	return strings.Join(parts, ", ")
}
