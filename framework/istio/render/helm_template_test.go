package render_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/istio/installer"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// helmForTest finds a helm binary ($MESHCONFORM_HELM, PATH, the image kit's bin-helm) and Istio's charts
// ($MESHCONFORM_CHARTS, the kit's istio.io/istio module in the Go module cache); it skips, naming what is missing.
func helmForTest(t *testing.T) (string, installer.HelmCharts) {
	t.Helper()
	var missing []string
	bin := os.Getenv("MESHCONFORM_HELM")
	if bin == "" {
		if p, err := exec.LookPath("helm"); err == nil {
			bin = p
		} else if p := images.KitHelm(images.DefaultCacheDir()); fileExists(p) {
			bin = p
		}
	}
	if bin == "" {
		missing = append(missing, "a helm binary (set MESHCONFORM_HELM, put helm on PATH, or `meshconform images build bin-helm`)")
	}
	dir := os.Getenv("MESHCONFORM_CHARTS")
	if dir == "" {
		dir = images.CachedIstioCharts()
	}
	var charts installer.HelmCharts
	if dir == "" {
		missing = append(missing, "Istio's charts (set MESHCONFORM_CHARTS, or `go mod download istio.io/istio@"+
			images.IstioModuleVersion+"`, which the image kit's istio build does)")
	} else {
		var err error
		if charts, err = installer.FindHelmCharts(dir); err != nil {
			t.Fatalf("MESHCONFORM_CHARTS: %v", err)
		}
	}
	if len(missing) > 0 {
		t.Skip("helm template check needs " + strings.Join(missing, " and "))
	}
	return bin, charts
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// renderedObject is one document of `helm template` output.
type renderedObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte
}

func helmTemplate(t *testing.T, bin string, charts installer.HelmCharts, r render.HelmRelease, valuesFile string) map[string]renderedObject {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "template", r.Name, charts.Dir(r.Chart), "--namespace", render.Namespace, "-f", valuesFile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s %s -f %s: %v\n%s", r.Name, charts.Dir(r.Chart), valuesFile, err, stderr.String())
	}
	objs := map[string]renderedObject{}
	for _, doc := range strings.Split(stdout.String(), "\n---") {
		var o renderedObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%s: parse rendered document: %v\n%s", r.Name, err, doc)
		}
		if o.Kind == "" {
			continue // comment-only documents of templates that render nothing
		}
		o.raw = []byte(doc)
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	return objs
}

func decodeObject[T any](t *testing.T, objs map[string]renderedObject, key string) *T {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		var have []string
		for k := range objs {
			have = append(have, k)
		}
		t.Fatalf("no %s rendered; have %v", key, have)
	}
	v := new(T)
	if err := yaml.Unmarshal(o.raw, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// TestHelmTemplateRendersEveryRole renders, with the real charts, the values of every role of every built-in
// topology and checks the objects the multicluster guides rely on.
func TestHelmTemplateRendersEveryRole(t *testing.T) {
	bin, charts := helmForTest(t)
	for _, name := range render.BuiltinNames(t) {
		top := render.MustBuiltin(t, name)
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			for _, c := range top.Spec.Clusters {
				in := render.RenderInput{Topology: top, Cluster: c.Name, Hub: render.TestHub, Tag: render.TestTag}
				if c.IsRemote() {
					in.RemotePilotAddress = render.TestRemotePilot
				}
				op, err := render.ControlPlaneOperator(in)
				if err != nil {
					t.Fatal(err)
				}
				ops := map[string]*render.IstioOperator{c.Name: op}
				if render.NeedsEastWestGateway(top, c.Name, env.ExposeGateway) {
					ops[c.Name+"-eastwest"] = render.EastWestOperator(c.Network, render.TestHub, render.TestTag, "")
				}
				for prefix, op := range ops {
					rels, err := render.HelmReleases(op)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rels {
						b, err := r.ValuesYAML()
						if err != nil {
							t.Fatal(err)
						}
						vf := render.HelmValuesFile(filepath.Join(work, prefix+".yaml"), r)
						if err := os.WriteFile(vf, b, 0o644); err != nil {
							t.Fatal(err)
						}
						objs := helmTemplate(t, bin, charts, r, vf)
						where := c.Name + "/" + r.Name
						switch r.Chart {
						case render.ChartBase:
							checkBase(t, where, objs)
						case render.ChartIstiod:
							if c.IsRemote() {
								checkRemoteIstiod(t, where, objs, render.InjectionPath(c.Name, c.Network))
							} else {
								checkPrimaryIstiod(t, where, objs, c.Name, top.Spec.Mesh.ID, len(top.RemotesOf(c.Name)) > 0)
							}
						case render.ChartGateway:
							checkGateway(t, where, objs, c.Network)
						}
					}
				}
			}
		})
	}
}

func checkBase(t *testing.T, where string, objs map[string]renderedObject) {
	crds := 0
	for k := range objs {
		if strings.HasPrefix(k, "CustomResourceDefinition/") {
			crds++
		}
	}
	if crds == 0 {
		t.Errorf("%s: base chart rendered no CRDs", where)
	}
	// The reader service account whose token the remote secrets carry.
	if _, ok := objs["ServiceAccount/"+istio.ReaderServiceAccount]; !ok {
		t.Errorf("%s: no ServiceAccount %s", where, istio.ReaderServiceAccount)
	}
}

func checkPrimaryIstiod(t *testing.T, where string, objs map[string]renderedObject, cluster, meshID string, external bool) {
	d := decodeObject[appsv1.Deployment](t, objs, "Deployment/istiod")
	var discovery *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "discovery" {
			discovery = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if discovery == nil {
		t.Fatalf("%s: istiod has no discovery container", where)
	}
	if want := render.TestHub + "/pilot:" + render.TestTag; discovery.Image != want {
		t.Errorf("%s: istiod image %s, want %s", where, discovery.Image, want)
	}
	// Room for a rolling restart on a small node; the chart's memory request stays.
	if cpu, mem := discovery.Resources.Requests.Cpu().String(), discovery.Resources.Requests.Memory().String(); cpu != render.IstiodCPURequest || mem != "2Gi" {
		t.Errorf("%s: istiod requests cpu %s memory %s, want cpu %s and the chart's 2Gi", where, cpu, mem, render.IstiodCPURequest)
	}
	env := envOf(*discovery)
	if env["CLUSTER_ID"] != cluster {
		t.Errorf("%s: CLUSTER_ID=%q, want %q", where, env["CLUSTER_ID"], cluster)
	}
	if got := env["EXTERNAL_ISTIOD"] == "true"; got != external {
		t.Errorf("%s: EXTERNAL_ISTIOD=%q, want it true exactly when the primary has remotes (%v)", where, env["EXTERNAL_ISTIOD"], external)
	}
	mesh := decodeObject[corev1.ConfigMap](t, objs, "ConfigMap/istio").Data["mesh"]
	for _, want := range []string{"meshId: " + meshID, "trustDomain: cluster.local"} {
		if !strings.Contains(mesh, want) {
			t.Errorf("%s: mesh config lacks %q:\n%s", where, want, mesh)
		}
	}
	if _, ok := objs["MutatingWebhookConfiguration/"+render.InjectorWebhook]; !ok {
		t.Errorf("%s: no injection webhook", where)
	}
}

func checkRemoteIstiod(t *testing.T, where string, objs map[string]renderedObject, injectionPath string) {
	if _, ok := objs["Deployment/istiod"]; ok {
		t.Errorf("%s: the remote profile rendered an istiod Deployment", where)
	}
	if _, ok := objs["Service/istiod"]; !ok {
		t.Errorf("%s: no Service istiod leading to remotePilotAddress", where)
	}
	if o, ok := objs["EndpointSlice/istiod"]; !ok || !strings.Contains(string(o.raw), render.TestRemotePilot) {
		t.Errorf("%s: no EndpointSlice istiod holding %s", where, render.TestRemotePilot)
	}
	wh, ok := objs["MutatingWebhookConfiguration/"+render.InjectorWebhook]
	if !ok || !strings.Contains(string(wh.raw), "path: \""+injectionPath+"\"") && !strings.Contains(string(wh.raw), "path: "+injectionPath) {
		t.Errorf("%s: injection webhook missing or not calling %s", where, injectionPath)
	}
}

func checkGateway(t *testing.T, where string, objs map[string]renderedObject, network string) {
	d := decodeObject[appsv1.Deployment](t, objs, "Deployment/"+render.EastWestGatewayName)
	for k, v := range render.EastWestGatewayLabels(network) {
		if got := d.Spec.Template.Labels[k]; got != v {
			t.Errorf("%s: pod label %s=%q, want %q", where, k, got, v)
		}
	}
	if len(d.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("%s: gateway has no container", where)
	}
	proxy := d.Spec.Template.Spec.Containers[0]
	if got := envOf(proxy)[render.RequestedNetworkViewEnv]; got != network {
		t.Errorf("%s: %s=%q, want %q", where, render.RequestedNetworkViewEnv, got, network)
	}
	if proxy.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: gateway imagePullPolicy %q, want IfNotPresent", where, proxy.ImagePullPolicy)
	}
	if got := d.Spec.Template.Annotations["inject.istio.io/templates"]; got != render.EastWestInjectionTemplate {
		t.Errorf("%s: injection template %q, want %q", where, got, render.EastWestInjectionTemplate)
	}
	svc := decodeObject[corev1.Service](t, objs, "Service/"+render.EastWestGatewayName)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("%s: gateway Service type %s", where, svc.Spec.Type)
	}
	if svc.Labels[render.NetworkLabel] != network {
		t.Errorf("%s: gateway Service label %s=%q, want %q", where, render.NetworkLabel, svc.Labels[render.NetworkLabel], network)
	}
	ports := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.Port
		if p.TargetPort.IntValue() != int(p.Port) {
			t.Errorf("%s: port %s targets %s", where, p.Name, p.TargetPort.String())
		}
	}
	if len(ports) != len(render.NetworkGatewayPorts) {
		t.Errorf("%s: gateway ports %v, want %v", where, ports, render.NetworkGatewayPorts)
	}
	for n, p := range render.NetworkGatewayPorts {
		if ports[n] != p {
			t.Errorf("%s: port %s = %d, want %d", where, n, ports[n], p)
		}
	}
}

// TestHelmTemplateRevision renders primary-remote installed as revision canary with the real charts: every name
// carries the revision, the base chart's validation calls istiod-canary, and what istiod.RevisionsOf reads from the
// rendered Deployments and webhooks chooses canary for both clusters.
func TestHelmTemplateRevision(t *testing.T) {
	bin, charts := helmForTest(t)
	top := render.MustBuiltin(t, "primary-remote")
	work := t.TempDir()
	for _, c := range top.Spec.Clusters {
		in := render.RenderInput{Topology: top, Cluster: c.Name, Hub: render.TestHub, Tag: render.TestTag, Revision: "canary"}
		if c.IsRemote() {
			in.RemotePilotAddress = render.TestRemotePilot
		}
		op, err := render.ControlPlaneOperator(in)
		if err != nil {
			t.Fatal(err)
		}
		rels, err := render.HelmReleases(op)
		if err != nil {
			t.Fatal(err)
		}
		var deps []appsv1.Deployment
		var whs []admissionv1.MutatingWebhookConfiguration
		for _, r := range rels {
			b, err := r.ValuesYAML()
			if err != nil {
				t.Fatal(err)
			}
			vf := render.HelmValuesFile(filepath.Join(work, c.Name+".yaml"), r)
			if err := os.WriteFile(vf, b, 0o644); err != nil {
				t.Fatal(err)
			}
			objs := helmTemplate(t, bin, charts, r, vf)
			where := c.Name + "/" + r.Name
			switch r.Chart {
			case render.ChartBase:
				vwc, ok := objs["ValidatingWebhookConfiguration/istiod-default-validator"]
				if !ok || !strings.Contains(string(vwc.raw), "name: istiod-canary") {
					t.Errorf("%s: the default validator does not call istiod-canary:\n%s", where, vwc.raw)
				}
			case render.ChartIstiod:
				if r.Name != "istiod-canary" {
					t.Errorf("%s: release %s, want istiod-canary", where, r.Name)
				}
				for k, o := range objs {
					switch o.Kind {
					case "Deployment":
						deps = append(deps, *decodeObject[appsv1.Deployment](t, objs, k))
					case "MutatingWebhookConfiguration":
						whs = append(whs, *decodeObject[admissionv1.MutatingWebhookConfiguration](t, objs, k))
					}
				}
				want := []string{"MutatingWebhookConfiguration/istio-sidecar-injector-canary"}
				if c.IsRemote() {
					want = append(want, "Service/istiod-canary", "EndpointSlice/istiod-canary")
				} else {
					want = append(want, "Deployment/istiod-canary", "ConfigMap/istio-canary", "ConfigMap/istio-sidecar-injector-canary")
				}
				for _, k := range want {
					if _, ok := objs[k]; !ok {
						t.Errorf("%s: no %s", where, k)
					}
				}
			}
		}
		for i := range deps {
			deps[i].Namespace = render.Namespace // helm template leaves namespaces to the release
		}
		tgt, _, err := istiod.RevisionsOf(deps, whs).Choose(c.Name, "", c.IsPrimary())
		if err != nil || tgt.Revision != "canary" || tgt.Label != render.RevisionLabel || tgt.Value != "canary" {
			t.Errorf("%s: chose %+v, %v; want istio.io/rev=canary", c.Name, tgt, err)
		}
	}
}
