package artifacts

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/topology"
)

const secretValue = "TOPSECRET-KEY-MATERIAL"

// pemKey is what a careless program might print; it must never reach the artifacts.
const pemKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7secretbits\n-----END RSA PRIVATE KEY-----"

func ns(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

type ctr struct {
	name     string
	restarts int32
	waiting  string // a never-started container's waiting reason
}

func pod(namespace, name string, labels map[string]string, containers ...ctr) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels,
			CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour)),
			ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "managed-fields-noise"}}},
		Spec:   corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.10.0.7"},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.name, Image: "img",
			// A pod may reference a Secret by name; the Secret's data must still never be read.
			Env: []corev1.EnvVar{{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cacerts"}, Key: "ca-key.pem"}}}}})
		s := corev1.ContainerStatus{Name: c.name, RestartCount: c.restarts, Ready: c.waiting == ""}
		if c.waiting != "" {
			p.Status.Phase = corev1.PodPending
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waiting}
		} else {
			s.State.Running = &corev1.ContainerStateRunning{}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, s)
	}
	return p
}

func event(namespace, name, reason string, at time.Time) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: name}, Reason: reason, Type: "Warning",
		Message: reason + " happened\nsecond line", LastTimestamp: metav1.NewTime(at), Count: 1}
}

// clientset is a fake cluster whose logs name the namespace, container and whether they are the previous ones.
func clientset(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga, ok := a.(k8stesting.GenericAction)
		if !ok || a.GetSubresource() != "log" {
			return false, nil, nil
		}
		o := ga.GetValue().(*corev1.PodLogOptions)
		body := fmt.Sprintf("log of %s container %s previous=%t\n", a.GetNamespace(), o.Container, o.Previous)
		if o.Container == "discovery" {
			body += pemKey + "\n"
		}
		return true, &runtime.Unknown{Raw: []byte(body)}, nil
	})
	return cs
}

// istiodServer plays one istiod replica's debug endpoints, knowing the given proxies.
func istiodServer(t *testing.T, name string, proxies ...string) *httptest.Server {
	known := map[string]bool{}
	for _, p := range proxies {
		known[p] = true
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/debug/")
		if path == "config_dump" {
			id := r.URL.Query().Get("proxyID")
			if !known[id] || r.URL.Query().Get("include_eds") != "true" {
				http.Error(w, "Proxy not connected to this Pilot instance", http.StatusNotFound)
				return
			}
			// istiod redacts keys itself; an inline PEM here checks our own scrub of what slips through.
			fmt.Fprintf(w, `{"proxy":%q,"served":%q,"key":%q}`, id, name, pemKey)
			return
		}
		fmt.Fprintf(w, `{"endpoint":%q,"istiod":%q}`, path, name)
	}))
	t.Cleanup(s.Close)
	return s
}

// unreachableKubeconfig points at a port nothing listens on: a real client, a real connection error.
func unreachableKubeconfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "down.kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: down, user: {token: x}}]
contexts: [{name: down, context: {cluster: down, user: down}}]
current-context: down
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	st       *env.State
	sets     map[string]*fake.Clientset
	opts     Options
	out      *bytes.Buffer
	kindMu   sync.Mutex
	kindLogs []string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{out: &bytes.Buffer{}, sets: map[string]*fake.Clientset{}}
	f.st = (&topology.Topology{
		Metadata: topology.Metadata{Name: "mix"},
		Spec: topology.Spec{Clusters: []topology.Cluster{
			{Name: "cluster1", Role: topology.RolePrimary, Network: "network1"},
			{Name: "cluster2", Role: topology.RoleRemote, Network: "network1", Primary: "cluster1"},
			{Name: "cluster3", Role: topology.RolePrimary, Network: "network2"},
			{Name: "cluster4", Role: topology.RolePrimary, Network: "network2"},
		}},
	}).NewState(t.TempDir(), "test")
	f.st.Mesh = &env.Mesh{Workloads: &env.Workloads{Namespace: "echo"}}
	c1 := f.st.Cluster("cluster1")
	c1.Role, c1.KindName, c1.Provisioned = topology.RolePrimary, "meshconform-cluster1", true
	c1.Access = clusters.Access{Kubeconfig: "cluster1.kubeconfig"} // the fake clientset stands in for it
	c2 := f.st.Cluster("cluster2")
	c2.Role = topology.RoleRemote // bring-your-own: no kind logs
	c2.Access = clusters.Access{Kubeconfig: "brought.kubeconfig", Context: "brought"}
	c3 := f.st.Cluster("cluster3")
	c3.Role, c3.KindName, c3.Provisioned = topology.RolePrimary, "meshconform-cluster3", true
	c3.Access = clusters.Access{Kubeconfig: unreachableKubeconfig(t), Context: "down"}
	// cluster4 is recorded but `up` never got to create it: no kubeconfig.

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "cacerts"},
		Data: map[string][]byte{"ca-key.pem": []byte(secretValue)}, StringData: map[string]string{"x": secretValue}}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f.sets["cluster1"] = clientset(
		ns("istio-system", nil), ns("echo", nil), ns("kube-system", nil), ns("sample", map[string]string{"meshconform.io/managed": "true"}),
		secret,
		pod("istio-system", "istiod-abc", map[string]string{"app": "istiod"}, ctr{name: "discovery"}),
		pod("istio-system", "istiod-def", map[string]string{"app": "istiod"}, ctr{name: "discovery"}),
		pod("echo", "client-xyz", map[string]string{"app": "client"}, ctr{name: "client"}, ctr{name: "istio-proxy", restarts: 2}),
		pod("echo", "echo-v1-1", map[string]string{"app": "echo"}, ctr{name: "echo"}, ctr{name: "istio-proxy"}),
		pod("kube-system", "coredns-1", nil, ctr{name: "coredns"}),
		pod("sample", "helloworld-1", nil, ctr{name: "helloworld", waiting: "ImagePullBackOff"}),
		event("echo", "late", "BackOff", t0.Add(2*time.Minute)),
		event("istio-system", "early", "FailedMount", t0),
		event("kube-system", "middle", "Unhealthy", t0.Add(time.Minute)),
	)
	f.sets["cluster2"] = clientset(
		ns("istio-system", nil), ns("echo", nil),
		secret.DeepCopy(),
		pod("echo", "client-r", map[string]string{"app": "client"}, ctr{name: "client"}, ctr{name: "istio-proxy"}),
		pod("echo", "orphan", nil, ctr{name: "istio-proxy"}),
	)
	// Two istiod replicas: each proxy is connected to one of them.
	servers := map[string]*httptest.Server{
		"cluster1/istiod-abc": istiodServer(t, "istiod-abc", "client-xyz.echo", "echo-v1-1.echo"),
		"cluster1/istiod-def": istiodServer(t, "istiod-def", "client-r.echo"),
	}
	f.opts = Options{
		Out: f.out,
		NewClient: func(c env.Cluster) (*kube.Client, error) {
			if cs, ok := f.sets[c.Name]; ok {
				return &kube.Client{Name: c.Name, Clientset: cs}, nil
			}
			return kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
		},
		Forward: func(ctx context.Context, c *kube.Client, ns, pod string, port int) (string, func(), error) {
			if ns != IstioNamespace || port != 15014 {
				return "", nil, fmt.Errorf("unexpected forward to %s/%s:%d", ns, pod, port)
			}
			s, ok := servers[c.Name+"/"+pod]
			if !ok {
				return "", nil, fmt.Errorf("no such pod %s/%s", c.Name, pod)
			}
			return s.URL, func() {}, nil
		},
		KindLogs: func(name, dir string) error {
			f.kindMu.Lock()
			f.kindLogs = append(f.kindLogs, name)
			f.kindMu.Unlock()
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			// kind writes with its own modes; a node's journal may hold whatever a program printed.
			if err := os.MkdirAll(filepath.Join(dir, name+"-control-plane"), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, name+"-control-plane", "journal.log"), []byte("kubelet: "+pemKey+"\n"), 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "docker-info.txt"), []byte("kind logs of "+name), 0o644)
		},
	}
	return f
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("expected file: %v", err)
	}
	return string(b)
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestCollect(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	start := time.Now()
	err := Collect(context.Background(), f.st, dir, f.opts)
	if time.Since(start) > 30*time.Second {
		t.Errorf("collection took %s", time.Since(start))
	}
	if err == nil {
		t.Fatal("Collect reported no error with an unreachable cluster")
	}
	mustContain(t, "error", err.Error(), "cluster3: unreachable", "cluster4: unreachable", "xds orphan.echo")

	c1 := filepath.Join(dir, "cluster1")
	pods := read(t, filepath.Join(c1, "pods.txt"))
	mustContain(t, "pods.txt", pods, "NAMESPACE", "istio-system  istiod-abc", "0/1", "Pending (helloworld: ImagePullBackOff)", "10.10.0.7", "node-1")
	if lines := strings.Count(pods, "\n"); lines != 7 {
		t.Errorf("pods.txt has %d lines, want a header and 6 pods", lines)
	}
	podsYAML := read(t, filepath.Join(c1, "pods.yaml"))
	mustContain(t, "pods.yaml", podsYAML, "kind: PodList", "name: client-xyz", "name: coredns-1")
	if strings.Contains(podsYAML, "managed-fields-noise") {
		t.Error("pods.yaml keeps managed fields")
	}
	events := read(t, filepath.Join(c1, "events.txt"))
	i, j, k := strings.Index(events, "FailedMount"), strings.Index(events, "Unhealthy"), strings.Index(events, "BackOff")
	if i < 0 || j < 0 || k < 0 || !(i < j && j < k) {
		t.Errorf("events not sorted by time:\n%s", events)
	}
	if strings.Count(events, "\n") != 4 {
		t.Errorf("a multi-line event message broke the table:\n%s", events)
	}
	for _, f := range []string{"nodes.yaml", "services.yaml", "endpointslices.yaml"} {
		if !exists(filepath.Join(c1, f)) {
			t.Errorf("cluster1/%s missing", f)
		}
	}

	// Logs: istio-system, the test namespace and managed namespaces; previous logs of restarted containers.
	mustContain(t, "client log", read(t, filepath.Join(c1, "logs/echo/client-xyz/client.log")), "log of echo container client previous=false")
	mustContain(t, "previous log", read(t, filepath.Join(c1, "logs/echo/client-xyz/istio-proxy.previous.log")), "previous=true")
	if exists(filepath.Join(c1, "logs/echo/client-xyz/client.previous.log")) {
		t.Error("previous log of a container that never restarted")
	}
	istiodLog := read(t, filepath.Join(c1, "logs/istio-system/istiod-abc/discovery.log"))
	if strings.Contains(istiodLog, "secretbits") || !strings.Contains(istiodLog, "[private key redacted by meshconform]") {
		t.Errorf("private key in a log not redacted:\n%s", istiodLog)
	}
	mustContain(t, "never-started log", read(t, filepath.Join(c1, "logs/sample/helloworld-1/helloworld.log")), "container has not started: ImagePullBackOff")
	if exists(filepath.Join(c1, "logs/kube-system")) {
		t.Error("kube-system logs collected: only istio-system and test namespaces belong in artifacts")
	}

	// istiod debug output, every replica.
	for _, p := range []string{"istiod-abc", "istiod-def"} {
		for _, e := range IstiodDebugPaths {
			mustContain(t, p+"/"+e, read(t, filepath.Join(c1, "istiod", p, e+".json")), `"endpoint":"`+e+`"`, `"istiod":"`+p+`"`)
		}
	}

	// xDS: the primary's own proxies, and the remote's proxies as its primary's istiod sees them.
	dump := read(t, filepath.Join(c1, "xds", "client-xyz.echo.config_dump.json"))
	mustContain(t, "config dump", dump, `"proxy":"client-xyz.echo"`, "private key redacted")
	if strings.Contains(dump, "secretbits") {
		t.Error("private key in a config dump not redacted")
	}
	c2 := filepath.Join(dir, "cluster2")
	mustContain(t, "remote config dump", read(t, filepath.Join(c2, "xds", "client-r.echo.config_dump.json")), `"served":"istiod-def"`)
	mustContain(t, "xds index", read(t, filepath.Join(c2, "xds", "index.txt")),
		"client-r.echo\tserved by cluster1/istiod-def", "orphan.echo\tnot dumped")
	mustContain(t, "cluster2 errors", read(t, filepath.Join(c2, "errors.txt")), "xds orphan.echo", "404")
	if exists(filepath.Join(c2, "istiod")) {
		t.Error("a remote has no istiod to dump")
	}

	// Kind logs for provisioned kind clusters only, even the unreachable one (its node logs say why).
	if got := strings.Join(f.kindLogs, ","); !strings.Contains(got, "meshconform-cluster1") || strings.Contains(got, "cluster2") ||
		!strings.Contains(got, "meshconform-cluster3") {
		t.Errorf("kind logs collected for %v", f.kindLogs)
	}
	mustContain(t, "kind logs", read(t, filepath.Join(c1, "kind", "docker-info.txt")), "meshconform-cluster1")

	// The unreachable cluster and the unrecorded one get an error file; the others were dumped regardless.
	c3 := filepath.Join(dir, "cluster3")
	mustContain(t, "cluster3 error.txt", read(t, filepath.Join(c3, "error.txt")), "could not be reached", "127.0.0.1:1", "context: down")
	if exists(filepath.Join(c3, "pods.txt")) {
		t.Error("pods.txt for an unreachable cluster")
	}
	mustContain(t, "cluster4 error.txt", read(t, filepath.Join(dir, "cluster4", "error.txt")), "no kubeconfig for this cluster")
	if exists(filepath.Join(dir, "cluster1", "errors.txt")) {
		t.Errorf("cluster1 had errors: %s", read(t, filepath.Join(dir, "cluster1", "errors.txt")))
	}

	mustContain(t, "progress", f.out.String(), "cluster1: collecting", "cluster2:", "cluster3: UNREACHABLE", "cluster4: UNREACHABLE",
		"4 cluster(s) dumped")
}

func TestNoSecretData(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	_ = Collect(context.Background(), f.st, dir, f.opts)
	b64 := base64.StdEncoding.EncodeToString([]byte(secretValue))
	files := 0
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, bad := range []string{secretValue, b64, "secretbits"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s contains secret data %q", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Errorf("only %d files written: the walk checked too little", files)
	}
	for name, cs := range f.sets {
		for _, a := range cs.Actions() {
			if a.GetResource().Resource == "secrets" {
				t.Errorf("%s: secrets were read (%s)", name, a.GetVerb())
			}
		}
	}
}

// A collection that cannot finish in time stops at the bound and says so, keeping what it has.
func TestTimeoutBoundsCollection(t *testing.T) {
	f := newFixture(t)
	f.opts.Timeout = 300 * time.Millisecond
	f.opts.Forward = func(ctx context.Context, c *kube.Client, ns, pod string, port int) (string, func(), error) {
		<-ctx.Done()
		return "", nil, ctx.Err()
	}
	dir := t.TempDir()
	start := time.Now()
	err := Collect(context.Background(), f.st, dir, f.opts)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Collect ran %s past a 300ms bound", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not say the deadline passed", err)
	}
	if !exists(filepath.Join(dir, "cluster1", "pods.txt")) {
		t.Error("what was collected before the bound was lost")
	}
}

func TestNilState(t *testing.T) {
	if err := Collect(context.Background(), nil, t.TempDir(), Options{}); err == nil {
		t.Error("no error for a nil state")
	}
}

func TestRedactPrivateKeys(t *testing.T) {
	in := "a\n" + pemKey + "\nb -----BEGIN PRIVATE KEY-----\\nMIIx\\n-----END PRIVATE KEY----- c\n-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
	out := string(RedactPrivateKeys([]byte(in)))
	if strings.Contains(out, "MIIEpA") || strings.Contains(out, "MIIx") || strings.Count(out, "[private key redacted") != 2 {
		t.Errorf("keys not redacted:\n%s", out)
	}
	if !strings.Contains(out, "MIIC") {
		t.Error("a certificate (public) was redacted")
	}
}

// Every file and directory the collector writes, kind's export included, is private; an earlier collection's files
// in the same directory are made private too; a symbolic link's target outside the tree is left alone.
func TestModes(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	kind := f.opts.KindLogs
	f.opts.KindLogs = func(name, dir string) error {
		if err := kind(name, dir); err != nil {
			return err
		}
		return os.Symlink(outside, filepath.Join(dir, "link"))
	}
	dir := filepath.Join(t.TempDir(), "artifacts")
	stale := filepath.Join(dir, "cluster1", "old", "stale.txt")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = Collect(context.Background(), f.st, dir, f.opts)
	files, dirs := 0, 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
		case info.IsDir():
			dirs++
			if m := info.Mode().Perm(); m != 0o700 {
				t.Errorf("directory %s is %04o, want 0700", p, m)
			}
		default:
			files++
			if m := info.Mode().Perm(); m != 0o600 {
				t.Errorf("file %s is %04o, want 0600", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 || dirs < 10 {
		t.Errorf("only %d files and %d directories walked", files, dirs)
	}
	if info, err := os.Stat(outside); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("a symbolic link's target outside the artifacts was changed: %v %v", info.Mode(), err)
	}
	journal := read(t, filepath.Join(dir, "cluster1", "kind", "meshconform-cluster1-control-plane", "journal.log"))
	if strings.Contains(journal, "secretbits") || !strings.Contains(journal, redactedMarker) {
		t.Errorf("kind's node logs not redacted:\n%s", journal)
	}
}
