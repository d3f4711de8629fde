package suites

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// FullText is the spec's name as Ginkgo matches --focus against it and the reports print it: its area's title, then
// its description.
func (s Spec) FullText() string { return AreaTitles[s.Area] + " " + s.Description }

// NeedsEnvoy says whether the spec needs Envoy: sidecars or east-west gateway pods.
func (s Spec) NeedsEnvoy() bool { return slices.Contains(s.Needs, v1alpha1.NeedEnvoy) }

// Selected are the catalogue's specs a label filter and focus expressions select, as Ginkgo selects them (labels:
// the area's and the spec's; focus: any expression matching the full text).
func Selected(labelFilter string, focus []string) ([]Spec, error) {
	match := func([]string) bool { return true }
	if labelFilter != "" {
		f, err := types.ParseLabelFilter(labelFilter)
		if err != nil {
			return nil, fmt.Errorf("--label-filter %q: %w", labelFilter, err)
		}
		match = f
	}
	var res []*regexp.Regexp
	for _, f := range focus {
		re, err := regexp.Compile(f)
		if err != nil {
			return nil, fmt.Errorf("--focus %q: %w", f, err)
		}
		res = append(res, re)
	}
	var out []Spec
	for _, s := range Catalogue {
		if !match(append([]string{s.Area.Label()}, s.Labels()...)) {
			continue
		}
		if len(res) > 0 && !slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s.FullText()) }) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}
