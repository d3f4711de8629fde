package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// WriteHTML writes a self-contained page (no external assets): the profiles at a glance (a table at the top), the
// verdict per area, the load-balancing distribution per source cluster as inline SVG, each profile's specs, and every
// failed, skipped and not-applicable spec with its reason.
// Every value is escaped by html/template, since names and messages come from clusters and specs.
func WriteHTML(cr *v1alpha1.ConformanceReport, path string) error {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, newView(cr)); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return writeFile(path, buf.Bytes())
}

// Chart geometry, in SVG user units.
const (
	chartLabelWidth = 180
	chartBarWidth   = 360
	chartRowHeight  = 26
	chartBarHeight  = 16
	chartCountSpace = 110
	maxLabelRunes   = 24
)

type view struct {
	*v1alpha1.ConformanceReport
	Sources []sourceCharts
}

// sourceCharts are the verdicts of the calls sent from one cluster.
type sourceCharts struct {
	Source string
	Charts []chart
}

type chart struct {
	Spec          string
	Pass          bool
	Reason        string
	Requests      int
	Judged        int
	Failed        int
	WarmupCalls   int
	Bound, Target string
	Width, Height int
	Bars          []bar
}

// bar is one destination cluster: calls it answered, and where the endpoint share puts the expectation.
type bar struct {
	Cluster string
	Label   string
	Count   int
	Share   string
	Class   string
	Y, W    int
	TextY   int
	TextX   int
	// ExpectedX is the x of the expected count (share x judged calls); 0 when there is no share (unexpected cluster).
	ExpectedX int
}

func newView(cr *v1alpha1.ConformanceReport) view {
	v := view{ConformanceReport: cr}
	idx := map[string]int{}
	for _, r := range cr.LoadBalancing {
		i, ok := idx[r.Source]
		if !ok {
			i = len(v.Sources)
			idx[r.Source] = i
			v.Sources = append(v.Sources, sourceCharts{Source: r.Source})
		}
		v.Sources[i].Charts = append(v.Sources[i].Charts, newChart(r))
	}
	return v
}

func newChart(r v1alpha1.LBResult) chart {
	c := chart{Spec: r.Spec, Pass: r.Pass, Reason: r.Reason, Requests: r.Plan.Requests, Failed: r.Failed,
		WarmupCalls: r.WarmupCalls, Bound: fmt.Sprintf("%.1e", r.Plan.FalseAlarmBound),
		Target: fmt.Sprintf("%.0e", r.Plan.FalseAlarmTarget)}
	// Destinations: the plan's clusters (even those that got nothing), then any unexpected answering cluster.
	dests := append(r.Plan.Clusters(), unexpected(r)...)
	for _, d := range dests {
		c.Judged += r.Tally[d]
	}
	c.Judged += r.Failed
	top := 1.0
	for _, d := range dests {
		top = math.Max(top, float64(r.Tally[d]))
		top = math.Max(top, r.Plan.Shares[d]*float64(c.Judged))
	}
	top = math.Max(top, float64(r.Failed))
	scale := func(n float64) int { return int(math.Round(n / top * chartBarWidth)) }
	add := func(cluster, label string, count int, share string, class string, expected float64) {
		y := 8 + len(c.Bars)*chartRowHeight
		b := bar{Cluster: cluster, Label: shorten(label), Count: count, Share: share, Class: class, Y: y,
			W: scale(float64(count)), TextY: y + chartBarHeight - 3}
		b.TextX = chartLabelWidth + b.W + 6
		if expected > 0 {
			b.ExpectedX = chartLabelWidth + scale(expected)
		}
		c.Bars = append(c.Bars, b)
	}
	for _, d := range dests {
		p, planned := r.Plan.Shares[d]
		class, share := "bar", "not planned"
		switch {
		case !planned:
			class = "bar unexpected"
		case missing(r, d):
			class, share = "bar missing", percent(p)
		default:
			share = percent(p)
		}
		add(d, d, r.Tally[d], share, class, p*float64(c.Judged))
	}
	if r.Failed > 0 {
		add("", "no answer", r.Failed, "", "bar failed", 0)
	}
	c.Width = chartLabelWidth + chartBarWidth + chartCountSpace
	c.Height = 16 + len(c.Bars)*chartRowHeight
	return c
}

// missing says whether cluster d stands for a group the calls had to reach and did not. Behind an east-west gateway
// a network is reached through one of its clusters: its others getting no call is no failure. Verdicts from older
// producers have no groups: there every planned cluster had to answer.
func missing(r v1alpha1.LBResult, d string) bool {
	if len(r.Plan.Groups) == 0 {
		return r.Tally[d] == 0
	}
	return contains(r.Missing, d)
}

func unexpected(r v1alpha1.LBResult) []string {
	var out []string
	for _, c := range r.Unexpected {
		if _, ok := r.Plan.Shares[c]; !ok {
			out = append(out, c)
		}
	}
	// Verdicts from older producers may not list them: take any tallied cluster outside the plan.
	for c, n := range r.Tally {
		if _, ok := r.Plan.Shares[c]; !ok && n > 0 && !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func percent(p float64) string { return strconv.FormatFloat(p*100, 'f', 0, 64) + "%" }

func shorten(s string) string {
	r := []rune(s)
	if len(r) <= maxLabelRunes {
		return s
	}
	return string(r[:maxLabelRunes-1]) + "…"
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": strings.ToLower,
	"ran":   Ran,
	"levels": func(p v1alpha1.ProfileReport) []namedLevel {
		return []namedLevel{{"core", p.Core}, {"extended", p.Extended}}
	},
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>meshconform: {{.Topology.Name}} — {{.Result}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; }
.result { font-weight: bold; padding: .1em .5em; border-radius: 3px; }
.success { background: #d4f4d4; color: #135213; }
.partial { background: #fff1c2; color: #6b4e00; }
.failure { background: #f8d0d0; color: #7a1111; }
.skipped, .notapplicable { background: #e8e8e8; color: #444; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: .6em; white-space: pre-wrap; word-break: break-word; }
code { background: #f4f4f4; padding: 0 .2em; }
svg .bar { fill: #3b82c4; } svg .missing { fill: #c43b3b; } svg .unexpected { fill: #c48a3b; } svg .failed { fill: #888; }
svg text { font: 12px system-ui, sans-serif; fill: #222; } svg .expected { stroke: #222; stroke-dasharray: 3 2; }
.chart { margin: .5em 0 1.2em; } .muted { color: #666; }
</style>
</head>
<body>
<h1>meshconform conformance report: <span class="result {{lower (print .Result)}}">{{.Result}}</span></h1>
<p>{{.Summary}}</p>
{{if .Profiles}}<table class="profiles">
<tr><th>Profile</th><th>Result</th><th>Core</th><th>Extended</th><th>Unsupported features</th></tr>
{{range .Profiles}}<tr data-profile="{{.Name}}"><td title="{{.Shape}}">{{.Name}}</td><td><span class="result {{lower (print .Result)}}">{{.Result}}</span></td>
<td class="num">{{.Core.Statistics.Passed}}/{{ran .Core.Statistics}} <span class="result {{lower (print .Core.Result)}}">{{.Core.Result}}</span></td>
<td class="num">{{.Extended.Statistics.Passed}}/{{ran .Extended.Statistics}} <span class="result {{lower (print .Extended.Result)}}">{{.Extended.Result}}</span></td>
<td>{{range $i, $f := .Core.UnsupportedFeatures}}{{if $i}}, {{end}}{{$f}}{{end}}{{if and .Core.UnsupportedFeatures .Extended.UnsupportedFeatures}}, {{end}}{{range $i, $f := .Extended.UnsupportedFeatures}}{{if $i}}, {{end}}{{$f}}{{end}}</td></tr>
{{end}}</table>
<p class="muted">Core and extended: specs passed of those that apply to this topology. A profile is a success when
every core spec passed and no extended spec failed or was left unrun; a core spec that could not run here makes it partial.</p>
{{end}}<table>
<tr><th>Implementation</th><td>{{.Implementation.Name}} {{.Implementation.Version}} (installer {{.Implementation.Installer}}{{if .Implementation.Revision}}, revision {{.Implementation.Revision}}{{end}}{{if .Implementation.Hub}}, hub {{.Implementation.Hub}}{{end}}{{if .Implementation.Tag}}, tag {{.Implementation.Tag}}{{end}})</td></tr>
<tr><th>Topology</th><td>{{.Topology.Name}}, networking {{.Topology.Networking}}</td></tr>
<tr><th>Clusters</th><td>{{range $i, $c := .Topology.Clusters}}{{if $i}}; {{end}}{{$c.Name}} ({{$c.Role}}{{if $c.Primary}} of {{$c.Primary}}{{end}}, {{$c.Network}}{{if $c.BringYourOwn}}, bring-your-own{{end}}){{end}}</td></tr>
<tr><th>Istiod revisions</th><td>{{range $i, $c := .Topology.Clusters}}{{if $i}}<br>{{end}}{{$c.Name}}: {{range $j, $d := $c.Istiods}}{{if $j}}, {{end}}{{$d.Deployment}} {{$d.Version}} (revision {{$d.Revision}}{{range $d.Tags}}, tag {{.}}{{end}}){{end}}{{with $c.Injection}}{{if $c.Istiods}}; {{end}}test workloads injected by {{.Label}} (revision {{.Revision}}{{if .Tag}} through tag {{.Tag}}{{end}}){{end}}{{end}}</td></tr>
<tr><th>Data plane</th><td>{{.DataPlane}}</td></tr>
<tr><th>Images</th><td>{{.ImageSource}}</td></tr>
{{if .ExposeIstiod}}<tr><th>istiod exposed via</th><td>{{.ExposeIstiod}}</td></tr>{{end}}
<tr><th>Date</th><td>{{.Date}}</td></tr>
<tr><th>meshconform</th><td>{{.MeshconformVersion}}</td></tr>
</table>

<h2>Areas</h2>
<table>
<tr><th>Area</th><th>Result</th><th>Passed</th><th>Failed</th><th>Skipped</th><th>Not applicable</th><th>Features</th></tr>
{{range .Areas}}<tr><td>{{.Name}}</td><td><span class="result {{lower (print .Result)}}">{{.Result}}</span></td><td class="num">{{.Statistics.Passed}}</td><td class="num">{{.Statistics.Failed}}</td><td class="num">{{.Statistics.Skipped}}</td><td class="num">{{.Statistics.NotApplicable}}</td><td>{{range $i, $f := .Features}}{{if $i}}, {{end}}{{$f}}{{end}}</td></tr>
{{end}}<tr><th>Total</th><th><span class="result {{lower (print .Result)}}">{{.Result}}</span></th><th class="num">{{.Statistics.Passed}}</th><th class="num">{{.Statistics.Failed}}</th><th class="num">{{.Statistics.Skipped}}</th><th class="num">{{.Statistics.NotApplicable}}</th><th></th></tr>
</table>

{{if .SuiteFailures}}<h2>Suite failures</h2>
{{range .SuiteFailures}}<h3>{{.Name}} <span class="muted">({{.State}}{{if .FailedIn}} in {{.FailedIn}}{{end}}{{if .Location}}, {{.Location}}{{end}})</span></h3>
<pre>{{.Message}}</pre>
{{end}}{{end}}

{{if .Sources}}<h2>Load balancing</h2>
<p class="muted">Calls answered per destination cluster, by source cluster. The dashed mark is the count expected from the
cluster's share of the endpoints; a cluster that gets none of the planned calls fails the test, which a healthy mesh does
with at most the stated false-alarm bound.</p>
{{range .Sources}}<h3>from {{.Source}}</h3>
{{range .Charts}}<div class="chart">
<p>{{.Spec}}: <span class="result {{if .Pass}}success{{else}}failure{{end}}">{{if .Pass}}pass{{else}}fail{{end}}</span>
— {{.Judged}} judged calls of {{.Requests}} planned, false-alarm bound {{.Bound}} (target {{.Target}}){{if .WarmupCalls}}, {{.WarmupCalls}} warm-up calls not judged{{end}}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img">
<title>{{.Reason}}</title>
{{range .Bars}}<g class="row">
<text x="{{$.ChartLabelX}}" y="{{.TextY}}" text-anchor="end"><title>{{.Cluster}}</title>{{.Label}}</text>
<rect class="{{.Class}}" data-cluster="{{.Cluster}}" data-count="{{.Count}}" x="{{$.ChartBarX}}" y="{{.Y}}" width="{{.W}}" height="{{$.ChartBarHeight}}"><title>{{.Cluster}}: {{.Count}}</title></rect>
{{if .ExpectedX}}<line class="expected" x1="{{.ExpectedX}}" x2="{{.ExpectedX}}" y1="{{.Y}}" y2="{{.TextY}}"/>{{end}}
<text x="{{.TextX}}" y="{{.TextY}}">{{.Count}}{{if .Share}} ({{.Share}}){{end}}{{if eq .Class "bar missing"}}: received none{{end}}</text>
</g>
{{end}}</svg>
<p class="muted">{{.Reason}}</p>
</div>
{{end}}{{end}}{{end}}

{{if .Profiles}}<h2>Profiles</h2>
<table><tr><th>Profile</th><th>Level</th><th>Result</th><th>Specs</th><th>Failed</th><th>Did not run</th><th>Unsupported</th></tr>
{{range $p := .Profiles}}{{range $l := levels $p}}<tr><td>{{$p.Name}}</td><td>{{$l.Name}}</td><td><span class="result {{lower (print $l.Result)}}">{{$l.Result}}</span></td>
<td>{{range $i, $s := $l.Specs}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}</td>
<td>{{range $i, $s := $l.FailedSpecs}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}</td>
<td>{{range $l.SkippedSpecs}}<code>{{.Name}}</code> ({{.Cause}}): {{.Reason}}<br>{{end}}</td>
<td>{{range $l.UnsupportedSpecs}}<code>{{.Name}}</code>: {{.Reason}}<br>{{end}}</td></tr>
{{end}}{{end}}</table>{{end}}

{{range .Areas}}{{if .FailedSpecs}}<h2>Failed: {{.Name}}</h2>
{{range .FailedSpecs}}<h3>{{.Name}} <span class="muted">({{.State}}{{if .FailedIn}} in {{.FailedIn}}{{end}}{{if .Location}}, {{.Location}}{{end}})</span></h3>
<pre>{{.Message}}</pre>
{{end}}{{end}}{{end}}

{{if .Statistics.Skipped}}<h2>Skipped (could not run here)</h2>
<table><tr><th>Area</th><th>Spec</th><th>Reason</th></tr>
{{range $a := .Areas}}{{range .SkippedSpecs}}<tr><td>{{$a.Name}}</td><td>{{.Name}}</td><td>{{.Reason}}</td></tr>
{{end}}{{end}}</table>{{end}}

{{if .Statistics.NotApplicable}}<h2>Not applicable to this topology</h2>
<table><tr><th>Area</th><th>Spec</th><th>Why</th></tr>
{{range $a := .Areas}}{{range .NotApplicableSpecs}}<tr><td>{{$a.Name}}</td><td>{{.Name}}</td><td>{{.Reason}}</td></tr>
{{end}}{{end}}</table>{{end}}

{{if .Notes}}<h2>Notes</h2>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Warnings}}<h2>Report warnings</h2>
<ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}

{{if .Timings}}<h2>Timings</h2>
<table><tr><th>Phase</th><th>Duration</th></tr>
{{range .Timings}}<tr><td>{{.Phase}}</td><td class="num">{{.Duration}}</td></tr>
{{end}}</table>{{end}}

<h2>Reproduce</h2>
<pre>{{.Reproduce.Command}}</pre>
{{if .Reproduce.Topology}}<p>Topology: <code>{{.Reproduce.Topology}}</code></p>{{end}}
{{if .Reproduce.LabelFilter}}<p>Label filter: <code>{{.Reproduce.LabelFilter}}</code></p>{{end}}
</body>
</html>
`

// namedLevel is a profile's support level with its name, for the profiles table.
type namedLevel struct {
	Name string
	v1alpha1.ProfileLevel
}

// Geometry the template reads (html/template has no arithmetic).
func (view) ChartLabelX() int    { return chartLabelWidth - 8 }
func (view) ChartBarX() int      { return chartLabelWidth }
func (view) ChartBarHeight() int { return chartBarHeight }
