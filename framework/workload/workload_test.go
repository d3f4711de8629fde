package workload

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

func fakeClient(objs ...interface{ GetName() string }) *kube.Client {
	cs := fake.NewClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Namespace:
			_, err = cs.CoreV1().Namespaces().Create(context.Background(), o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		case *appsv1.Deployment:
			_, err = cs.AppsV1().Deployments(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		default:
			panic("unsupported object")
		}
		if err != nil {
			panic(err)
		}
	}
	return &kube.Client{Name: "cluster1", Clientset: cs}
}

func TestVersionFor(t *testing.T) {
	for i, want := range []string{"v1", "v2", "v3"} {
		if got := VersionFor(i); got != want {
			t.Errorf("VersionFor(%d) = %q, want %q", i, got, want)
		}
	}
	if got := VersionFor(9); got != "v10" {
		t.Errorf("VersionFor(9) = %q, want v10", got)
	}
}

func TestNamesAndTargets(t *testing.T) {
	if got, want := Target(env.DataPlaneProxyless, "echo", "echo", 8080), "xds:///echo.echo.svc.cluster.local:8080"; got != want {
		t.Errorf("proxyless target = %q, want %q", got, want)
	}
	if got, want := Target(env.DataPlaneSidecar, "echo", "echo", 8080), "echo.echo.svc.cluster.local:8080"; got != want {
		t.Errorf("sidecar target = %q, want %q", got, want)
	}
	if got, want := Identity("cluster.local", "echo", "client"), "spiffe://cluster.local/ns/echo/sa/client"; got != want {
		t.Errorf("Identity = %q, want %q", got, want)
	}
	if got, want := (Spec{Version: "v2"}).ServerName(), "echo-v2"; got != want {
		t.Errorf("ServerName = %q, want %q", got, want)
	}
}

func spec(dataPlane env.DataPlane) Spec {
	s, err := Spec{Image: "meshconform.io/workload:abc", Cluster: "cluster1", Version: "v1", DataPlane: dataPlane, Env: "dev"}.withDefaults()
	if err != nil {
		panic(err)
	}
	return s
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			m[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			m[e.Name] = e.Value
		}
	}
	return m
}

func TestSpecDefaultsAndValidation(t *testing.T) {
	s := spec("")
	if s.Namespace != "echo" || s.Service != "echo" || s.Port != 8080 || s.HealthPort != 8081 || s.Replicas != 1 ||
		s.DataPlane != env.DataPlaneProxyless {
		t.Errorf("defaults: %+v", s)
	}
	for name, bad := range map[string]Spec{
		"no image":        {Cluster: "c", Version: "v1", Env: "dev"},
		"no cluster":      {Image: "i", Version: "v1", Env: "dev"},
		"no version":      {Image: "i", Cluster: "c", Env: "dev"},
		"no environment":  {Image: "i", Cluster: "c", Version: "v1"},
		"bad data plane":  {Image: "i", Cluster: "c", Version: "v1", DataPlane: "ambient", Env: "dev"},
		"same ports":      {Image: "i", Cluster: "c", Version: "v1", Port: 8081, Env: "dev"},
		"client name":     {Image: "i", Cluster: "c", Version: "v1", Service: "client", Env: "dev"},
		"port over range": {Image: "i", Cluster: "c", Version: "v1", Port: 70000, Env: "dev"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%s: accepted %+v", name, bad)
		}
	}
	if _, err := (Spec{Image: "i", Cluster: "c", NoServer: true, Env: "dev"}).withDefaults(); err != nil {
		t.Errorf("NoServer without version rejected: %v", err)
	}
}

func TestServerDeploymentProxyless(t *testing.T) {
	d := serverDeployment(spec(env.DataPlaneProxyless))
	if d.Name != "echo-v1" || d.Namespace != "echo" {
		t.Errorf("name %s/%s, want echo/echo-v1", d.Namespace, d.Name)
	}
	wantLabels := map[string]string{"app": "echo", "version": "v1"}
	for k, v := range wantLabels {
		if d.Spec.Selector.MatchLabels[k] != v || d.Spec.Template.Labels[k] != v || d.Labels[k] != v {
			t.Errorf("label %s=%s missing from selector %v, pod %v or object %v", k, v, d.Spec.Selector.MatchLabels,
				d.Spec.Template.Labels, d.Labels)
		}
	}
	if d.Labels[ManagedLabel] != "true" || !env.OwnerOf(d.Labels).Mine("dev") {
		t.Errorf("object labels %v lack %s or environment dev's labels", d.Labels, ManagedLabel)
	}
	// tlsMode=istio would make the proxyless server STRICT-only (grpcgen turns PERMISSIVE into STRICT).
	if _, ok := d.Spec.Template.Labels["security.istio.io/tlsMode"]; ok {
		t.Errorf("proxyless pod must not carry security.istio.io/tlsMode")
	}
	ann := d.Spec.Template.Annotations
	if ann["inject.istio.io/templates"] != "grpc-agent" {
		t.Errorf("templates annotation = %q", ann["inject.istio.io/templates"])
	}
	if ann["proxy.istio.io/config"] != `{"holdApplicationUntilProxyStarts": true}` {
		t.Errorf("proxy config annotation = %q", ann["proxy.istio.io/config"])
	}
	ps := d.Spec.Template.Spec
	if ps.ServiceAccountName != "echo" {
		t.Errorf("service account %q, want echo", ps.ServiceAccountName)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers, want 1 (istio-proxy is injected)", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.Image != "meshconform.io/workload:abc" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s pull %s", c.Image, c.ImagePullPolicy)
	}
	if want := []string{"server", "--port", "8080", "--health-port", "8081", "--xds"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image entrypoint", c.Command)
	}
	grpcPort := false
	for _, p := range c.Ports {
		if p.Name == "grpc" && p.ContainerPort == 8080 && p.Protocol == corev1.ProtocolTCP {
			grpcPort = true
		}
	}
	if !grpcPort {
		t.Errorf("no containerPort 8080 named grpc in %+v", c.Ports)
	}
	rp := c.ReadinessProbe
	if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/readyz" || rp.HTTPGet.Port.IntValue() != 8081 {
		t.Errorf("readiness probe %+v, want GET /readyz on 8081", rp)
	}
	e := envOf(c)
	want := map[string]string{"VERSION": "v1", "CLUSTER": "cluster1", "POD_NAME": "field:metadata.name",
		"POD_NAMESPACE": "field:metadata.namespace", "POD_IP": "field:status.podIP"}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("env %s = %q, want %q", k, e[k], v)
		}
	}
}

func TestServerDeploymentSidecar(t *testing.T) {
	d := serverDeployment(spec(env.DataPlaneSidecar))
	if len(d.Spec.Template.Annotations) != 0 {
		t.Errorf("sidecar pod annotations %v, want none (default injection)", d.Spec.Template.Annotations)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if slices.Contains(c.Args, "--xds") {
		t.Errorf("sidecar server args %q contain --xds", c.Args)
	}
	if c.Args[0] != "server" {
		t.Errorf("args %q", c.Args)
	}
}

func TestClientDeployment(t *testing.T) {
	for _, dp := range env.DataPlanes {
		d := clientDeployment(spec(dp))
		if d.Name != "client" || d.Spec.Template.Labels["app"] != "client" || d.Spec.Selector.MatchLabels["app"] != "client" {
			t.Errorf("%s: client deployment %s labels %v", dp, d.Name, d.Spec.Template.Labels)
		}
		if _, ok := d.Spec.Template.Labels["version"]; ok {
			t.Errorf("%s: client pods carry a version label", dp)
		}
		ps := d.Spec.Template.Spec
		if ps.ServiceAccountName != "client" {
			t.Errorf("%s: service account %q", dp, ps.ServiceAccountName)
		}
		if c := ps.Containers[0]; c.Name != "client" || !slices.Equal(c.Args, []string{"sleep"}) {
			t.Errorf("%s: container %s args %q", dp, c.Name, c.Args)
		}
		got := d.Spec.Template.Annotations["inject.istio.io/templates"]
		if want := map[env.DataPlane]string{env.DataPlaneProxyless: "grpc-agent", env.DataPlaneSidecar: ""}[dp]; got != want {
			t.Errorf("%s: client templates annotation %q, want %q", dp, got, want)
		}
	}
}

func TestEchoService(t *testing.T) {
	s := echoService(spec(env.DataPlaneProxyless))
	if s.Name != "echo" || s.Namespace != "echo" || s.Spec.Selector["app"] != "echo" || len(s.Spec.Selector) != 1 {
		t.Errorf("service %s/%s selector %v", s.Namespace, s.Name, s.Spec.Selector)
	}
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("ports %+v", s.Spec.Ports)
	}
	p := s.Spec.Ports[0]
	if p.Name != "grpc" || p.AppProtocol == nil || *p.AppProtocol != "grpc" || p.Port != 8080 || p.TargetPort.IntValue() != 8080 {
		t.Errorf("port %+v, want grpc/8080 appProtocol grpc", p)
	}
}

func TestDeployIdempotentAndConverges(t *testing.T) {
	ctx := context.Background()
	// A namespace an older meshconform made (no environment label), with a label someone added and no injection.
	c := fakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "echo",
		Labels: map[string]string{"team": "x", ManagedLabel: "true"}}})
	s := Spec{Image: "img:1", Cluster: "cluster1", Version: "v1", Env: "dev"}
	for range 2 {
		if err := Deploy(ctx, c, s); err != nil {
			t.Fatal(err)
		}
	}
	cs := c.Clientset
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["istio-injection"] != "enabled" || ns.Labels["team"] != "x" || !env.OwnerOf(ns.Labels).Mine("dev") {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	deps, _ := cs.AppsV1().Deployments("echo").List(ctx, metav1.ListOptions{})
	if names := deploymentNames(deps.Items); !slices.Equal(names, []string{"client", "echo-v1"}) {
		t.Errorf("deployments %v, want [client echo-v1]", names)
	}
	svcs, _ := cs.CoreV1().Services("echo").List(ctx, metav1.ListOptions{})
	if len(svcs.Items) != 1 || svcs.Items[0].Name != "echo" {
		t.Errorf("services %+v", svcs.Items)
	}
	sas, _ := cs.CoreV1().ServiceAccounts("echo").List(ctx, metav1.ListOptions{})
	var saNames []string
	for _, sa := range sas.Items {
		saNames = append(saNames, sa.Name)
		if !env.OwnerOf(sa.Labels).Mine("dev") {
			t.Errorf("service account %s labels %v", sa.Name, sa.Labels)
		}
	}
	slices.Sort(saNames)
	if !slices.Equal(saNames, []string{"client", "echo"}) {
		t.Errorf("service accounts %v", saNames)
	}

	// Switching the data plane updates in place.
	s.DataPlane = env.DataPlaneSidecar
	if err := Deploy(ctx, c, s); err != nil {
		t.Fatal(err)
	}
	d, _ := cs.AppsV1().Deployments("echo").Get(ctx, "echo-v1", metav1.GetOptions{})
	if slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--xds") {
		t.Errorf("update did not reach the deployment: %q", d.Spec.Template.Spec.Containers[0].Args)
	}

	// The cluster no longer runs a server: Service and client stay, echo-v1 goes.
	if err := Deploy(ctx, c, Spec{Image: "img:1", Cluster: "cluster1", NoServer: true, Env: "dev"}); err != nil {
		t.Fatal(err)
	}
	deps, _ = cs.AppsV1().Deployments("echo").List(ctx, metav1.ListOptions{})
	if names := deploymentNames(deps.Items); !slices.Equal(names, []string{"client"}) {
		t.Errorf("deployments %v after NoServer, want [client]", names)
	}
	if _, err := cs.CoreV1().Services("echo").Get(ctx, "echo", metav1.GetOptions{}); err != nil {
		t.Errorf("service gone with NoServer: %v", err)
	}
}

func TestDeployRefusesForeignDeployment(t *testing.T) {
	c := fakeClient(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "echo"}})
	err := Deploy(context.Background(), c, Spec{Image: "img:1", Cluster: "cluster1", Version: "v1", Env: "dev"})
	if err == nil || !strings.Contains(err.Error(), "not made by meshconform") {
		t.Errorf("err = %v, want refusal to touch a foreign deployment", err)
	}
}

// A namespace of the same name that is someone's, or another environment's, is refused and left as it was.
func TestDeployRefusesANamespaceThatIsNotTheEnvironments(t *testing.T) {
	for labels, want := range map[string]map[string]string{
		"not meshconform's":  {"team": "x"},
		`environment "ci"'s`: env.ObjectLabels("ci"),
	} {
		c := fakeClient(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "echo", Labels: want}})
		err := Deploy(context.Background(), c, Spec{Image: "img:1", Cluster: "cluster1", Version: "v1", Env: "dev"})
		if err == nil || !strings.Contains(err.Error(), "refusing to overwrite Namespace echo") || !strings.Contains(err.Error(), labels) {
			t.Errorf("%v: err = %v, want a refusal saying it is %s", want, err, labels)
		}
		ns, _ := c.Clientset.CoreV1().Namespaces().Get(context.Background(), "echo", metav1.GetOptions{})
		deps, _ := c.Clientset.AppsV1().Deployments("echo").List(context.Background(), metav1.ListOptions{})
		if _, ok := ns.Labels[InjectionLabel]; ok || len(deps.Items) != 0 {
			t.Errorf("%v: namespace labels %v, %d deployments: touched", want, ns.Labels, len(deps.Items))
		}
	}
}

func deploymentNames(ds []appsv1.Deployment) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func TestCrossNetworkMarksOnlyProxylessServersAsMTLSEndpoints(t *testing.T) {
	base := Spec{Namespace: "echo", Image: "img", Cluster: "cluster1", Version: "v1", DataPlane: env.DataPlaneProxyless,
		Service: "echo", Port: 8080, HealthPort: 8081, Replicas: 1}
	plain := serverDeployment(base)
	if _, ok := plain.Spec.Template.Labels[TLSModeLabel]; ok {
		t.Fatal("single-network proxyless server carries the tlsMode label")
	}
	base.CrossNetwork = true
	cross := serverDeployment(base)
	if cross.Spec.Template.Labels[TLSModeLabel] != "istio" {
		t.Fatalf("cross-network proxyless server labels %v: want %s=istio", cross.Spec.Template.Labels, TLSModeLabel)
	}
	if _, ok := cross.Spec.Selector.MatchLabels[TLSModeLabel]; ok {
		t.Fatal("tlsMode in the selector: changing it would orphan existing pods")
	}
}
