package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// Check applies the rules a report's schema cannot say: every result follows from its counts as Build computes it
// (v1alpha1.Result, ProfileReport, ProfileLevel), every count matches its list, the run's statistics add up its
// areas', profiles agree with the areas about each spec; and, with d, that every spec name is known, each profile
// lists the specs and features its definition declares, and the report has exactly the profiles its topology's shape
// calls for. It returns every problem, each at its JSON path; Build's reports have none.
func Check(cr *v1alpha1.ConformanceReport, d *Definitions) []Problem {
	c := &checker{d: d}
	if d != nil {
		c.byShort = map[string]SpecDefinition{}
		c.byName = map[string]SpecDefinition{}
		for _, s := range d.Specs {
			c.byShort[s.ShortName] = s
			c.byName[s.Name] = s
		}
	}
	c.areas(cr)
	c.profiles(cr)
	for i, l := range cr.LoadBalancing {
		c.knownName(fmt.Sprintf("$.loadBalancing[%d].spec", i), l.Spec, "")
	}
	return c.problems
}

type checker struct {
	d        *Definitions
	byShort  map[string]SpecDefinition
	byName   map[string]SpecDefinition
	problems []Problem
	// areaState is each spec's outcome as the areas list it, by full name: failed, skipped or notApplicable
	// (absent: passed, or not in the run).
	areaState map[string]string
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// knownName checks a spec's full name against the definitions, and that it belongs to area (unless area is empty).
func (c *checker) knownName(path, name string, area v1alpha1.Area) {
	if c.d == nil {
		return
	}
	s, ok := c.byName[name]
	switch {
	case !ok:
		c.add(path, "unknown spec %q: no spec of this meshconform has that name", name)
	case area != "" && s.Area != area:
		c.add(path, "spec %q (%s) is in area %s, not %s", name, s.ShortName, s.Area, area)
	}
}

func (c *checker) areas(cr *v1alpha1.ConformanceReport) {
	c.areaState = map[string]string{}
	var total v1alpha1.Statistics
	seen := map[v1alpha1.Area]bool{}
	for i, a := range cr.Areas {
		p := fmt.Sprintf("$.areas[%d]", i)
		if !a.Name.Known() && a.Name != v1alpha1.UnlabelledArea {
			c.add(p+".name", "unknown area %q (one of %v, or %s)", a.Name, v1alpha1.Areas, v1alpha1.UnlabelledArea)
		}
		if seen[a.Name] {
			c.add(p+".name", "area %s is listed twice", a.Name)
		}
		seen[a.Name] = true
		c.count(p, "failed", a.Statistics.Failed, "failedSpecs", len(a.FailedSpecs))
		c.count(p, "skipped", a.Statistics.Skipped, "skippedSpecs", len(a.SkippedSpecs))
		c.count(p, "notApplicable", a.Statistics.NotApplicable, "notApplicableSpecs", len(a.NotApplicableSpecs))
		if a.Statistics.Flaked > a.Statistics.Passed {
			c.add(p+".statistics.flaked", "%d flaked, more than the %d passed", a.Statistics.Flaked, a.Statistics.Passed)
		}
		if want := result(a.Statistics); a.Result != want {
			c.add(p+".result", "%q, but its statistics (%s) make it %s", a.Result, summary(a.Statistics), want)
		}
		area := a.Name
		if area == v1alpha1.UnlabelledArea {
			area = ""
		}
		for j, s := range a.FailedSpecs {
			c.knownName(fmt.Sprintf("%s.failedSpecs[%d].name", p, j), s.Name, area)
			c.areaState[s.Name] = "failed"
		}
		for j, s := range a.SkippedSpecs {
			c.knownName(fmt.Sprintf("%s.skippedSpecs[%d].name", p, j), s.Name, area)
			c.areaState[s.Name] = "skipped"
		}
		for j, s := range a.NotApplicableSpecs {
			c.knownName(fmt.Sprintf("%s.notApplicableSpecs[%d].name", p, j), s.Name, area)
			c.areaState[s.Name] = "notApplicable"
		}
		add(&total, a.Statistics)
	}
	if cr.Statistics != total {
		c.add("$.statistics", "%s, but the areas add up to %s", summary(cr.Statistics), summary(total))
	}
	if want := overall(cr.Areas, len(cr.SuiteFailures) > 0, total); cr.Result != want {
		c.add("$.result", "%q, but its areas and suite failures make it %s", cr.Result, want)
	}
}

// count checks that a statistic equals the length of the list it counts.
func (c *checker) count(path, stat string, n int, list string, l int) {
	if n != l {
		c.add(path+".statistics."+stat, "%d, but %s lists %d", n, list, l)
	}
}

func (c *checker) profiles(cr *v1alpha1.ConformanceReport) {
	defs := map[v1alpha1.Profile]ProfileDefinition{}
	if c.d != nil {
		for _, d := range c.d.Profiles {
			defs[d.Name] = d
		}
	}
	shape := shapeOfReport(cr.Topology)
	seen := map[v1alpha1.Profile]bool{}
	for i, pr := range cr.Profiles {
		p := fmt.Sprintf("$.profiles[%d]", i)
		if !pr.Name.Known() {
			c.add(p+".name", "unknown profile %q (one of %v)", pr.Name, v1alpha1.Profiles)
		}
		if seen[pr.Name] {
			c.add(p+".name", "profile %s is listed twice", pr.Name)
		}
		seen[pr.Name] = true
		def, defined := defs[pr.Name]
		if c.d != nil {
			switch {
			case !defined || len(def.Specs()) == 0:
				c.add(p+".name", "profile %s has no specs in this meshconform", pr.Name)
				defined = false
			case pr.Shape != def.Shape.String():
				c.add(p+".shape", "%q, but profile %s applies to %s", pr.Shape, pr.Name, def.Shape)
			}
			if defined && !def.Shape.Fits(shape) {
				c.add(p+".name", "profile %s applies to %s, but the topology has %s", pr.Name, def.Shape, describeShape(shape))
			}
		}
		var core, extended []FeatureDefinition
		if defined {
			core, extended = def.Core, def.Extended
		}
		c.level(p+".core", pr.Core, true, core, defined)
		c.level(p+".extended", pr.Extended, false, extended, defined)
		if want := profileResult(pr.Core.Result, pr.Extended.Result); pr.Result != want {
			c.add(p+".result", "%q, but core %s and extended %s make it %s", pr.Result, pr.Core.Result, pr.Extended.Result, want)
		}
	}
	if c.d == nil || len(cr.Topology.Clusters) == 0 {
		return
	}
	for _, d := range c.d.Profiles {
		if len(d.Specs()) > 0 && d.Shape.Fits(shape) && !seen[d.Name] {
			c.add("$.profiles", "no result for profile %s, which applies to %s: the topology has %s", d.Name, d.Shape, describeShape(shape))
		}
	}
}

func describeShape(s Shape) string {
	return fmt.Sprintf("%d primary, %d remote cluster(s) and %d mesh network(s)", s.Primaries, s.Remotes, s.Networks)
}

// level checks one support level of a profile; with its definition (defined), against the features it declares.
func (c *checker) level(p string, l v1alpha1.ProfileLevel, core bool, features []FeatureDefinition, defined bool) {
	s := l.Statistics
	if n := s.Passed + s.Failed + s.Skipped + s.NotApplicable; n != len(l.Specs) {
		c.add(p+".statistics", "count %d specs, but specs lists %d", n, len(l.Specs))
	}
	c.count(p, "failed", s.Failed, "failedSpecs", len(l.FailedSpecs))
	c.count(p, "skipped", s.Skipped, "skippedSpecs", len(l.SkippedSpecs))
	c.count(p, "notApplicable", s.NotApplicable, "unsupportedSpecs", len(l.UnsupportedSpecs))
	if s.Flaked > s.Passed {
		c.add(p+".statistics.flaked", "%d flaked, more than the %d passed", s.Flaked, s.Passed)
	}
	if want := levelResult(s, core); l.Result != want {
		c.add(p+".result", "%q, but its statistics (%s) make it %s", l.Result, summary(s), want)
	}

	listed := map[string]int{}
	for j, name := range l.Specs {
		if listed[name] > 0 {
			c.add(fmt.Sprintf("%s.specs[%d]", p, j), "spec %s is listed twice", name)
		}
		listed[name]++
		if c.d != nil {
			if _, ok := c.byShort[name]; !ok {
				c.add(fmt.Sprintf("%s.specs[%d]", p, j), "unknown spec %q: no spec of this meshconform has that short name", name)
			}
		}
	}
	// Each spec's outcome in this level: failed, skipped, unsupported, else passed.
	state := map[string]string{}
	mark := func(path, name, st string) {
		if listed[name] == 0 {
			c.add(path, "spec %s is not among the level's specs", name)
		}
		if prev, ok := state[name]; ok {
			c.add(path, "spec %s is listed as %s and as %s", name, prev, st)
		}
		state[name] = st
	}
	for j, name := range l.FailedSpecs {
		mark(fmt.Sprintf("%s.failedSpecs[%d]", p, j), name, "failed")
	}
	causes := map[string]v1alpha1.SkipCause{}
	for j, k := range l.SkippedSpecs {
		causes[k.Name] = k.Cause
		mark(fmt.Sprintf("%s.skippedSpecs[%d].name", p, j), k.Name, "skipped")
		if k.Cause != v1alpha1.SkipCannotRunHere && k.Cause != v1alpha1.SkipNotRun {
			c.add(fmt.Sprintf("%s.skippedSpecs[%d].cause", p, j), "%q: a skipped spec could not run here (%s) or did not run (%s); one that does not apply is unsupported",
				k.Cause, v1alpha1.SkipCannotRunHere, v1alpha1.SkipNotRun)
		}
	}
	for j, k := range l.UnsupportedSpecs {
		mark(fmt.Sprintf("%s.unsupportedSpecs[%d].name", p, j), k.Name, "unsupported")
		if k.Cause != v1alpha1.SkipNotApplicable {
			c.add(fmt.Sprintf("%s.unsupportedSpecs[%d].cause", p, j), "%q: an unsupported spec is one that does not apply (%s); one that could not run is skipped",
				k.Cause, v1alpha1.SkipNotApplicable)
		}
	}
	c.agreesWithAreas(p, l, state, causes)

	for _, f := range l.SupportedFeatures {
		if slices.Contains(l.UnsupportedFeatures, f) {
			c.add(p, "feature %s is listed both supported and unsupported", f)
		}
	}
	if !defined {
		return
	}
	var want []string
	for _, f := range features {
		want = append(want, f.Specs...)
		unsupported := len(f.Specs) > 0
		for _, name := range f.Specs {
			if state[name] != "unsupported" {
				unsupported = false
			}
		}
		inSupported, inUnsupported := slices.Contains(l.SupportedFeatures, f.Name), slices.Contains(l.UnsupportedFeatures, f.Name)
		switch {
		case unsupported && !inUnsupported:
			c.add(p+".unsupportedFeatures", "lacks %s: none of its specs (%s) applies", f.Name, strings.Join(f.Specs, ", "))
		case !unsupported && !inSupported:
			c.add(p+".supportedFeatures", "lacks %s: some of its specs (%s) apply", f.Name, strings.Join(f.Specs, ", "))
		}
		if unsupported && inSupported {
			c.add(p+".supportedFeatures", "lists %s, but none of its specs (%s) applies", f.Name, strings.Join(f.Specs, ", "))
		}
		if !unsupported && inUnsupported {
			c.add(p+".unsupportedFeatures", "lists %s, but some of its specs (%s) apply", f.Name, strings.Join(f.Specs, ", "))
		}
	}
	for _, f := range append(slices.Clone(l.SupportedFeatures), l.UnsupportedFeatures...) {
		if !slices.ContainsFunc(features, func(d FeatureDefinition) bool { return d.Name == f }) {
			c.add(p, "feature %s is not a feature of this level", f)
		}
	}
	for _, name := range want {
		if listed[name] == 0 {
			c.add(p+".specs", "lacks %s, which counts in this level", name)
		}
	}
	for j, name := range l.Specs {
		if _, known := c.byShort[name]; known && !slices.Contains(want, name) {
			c.add(fmt.Sprintf("%s.specs[%d]", p, j), "spec %s does not count in this level", name)
		}
	}
}

// agreesWithAreas checks that the areas report each of the level's specs as the level does (needs the definitions,
// which map short names to the areas' full names).
func (c *checker) agreesWithAreas(p string, l v1alpha1.ProfileLevel, state map[string]string, causes map[string]v1alpha1.SkipCause) {
	if c.d == nil {
		return
	}
	for j, name := range l.Specs {
		def, ok := c.byShort[name]
		if !ok {
			continue
		}
		inLevel, inArea := state[name], c.areaState[def.Name]
		if inLevel == "" {
			inLevel = "passed"
		}
		var agree bool
		switch inLevel {
		case "passed":
			agree = inArea == ""
		case "failed":
			agree = inArea == "failed"
		case "unsupported":
			agree = inArea == "notApplicable"
		case "skipped":
			// A spec not in the run at all is in no area.
			agree = inArea == "skipped" || inArea == "" && causes[name] == v1alpha1.SkipNotRun
		}
		if !agree {
			if inArea == "" {
				inArea = "passed (or not in the run)"
			}
			c.add(fmt.Sprintf("%s.specs[%d]", p, j), "spec %s is %s here, but its area reports it %s", name, inLevel, inArea)
		}
	}
}
