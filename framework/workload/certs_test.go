package workload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

func testCert(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func meshPod(name string, proxyless bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "echo"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo"}, {Name: ProxyContainer}}},
	}
	if proxyless {
		p.Annotations = podAnnotations(env.DataPlaneProxyless)
	}
	return p
}

type execCall struct{ container, cmd string }

// fakeFiles answers `cat` / `/workload cat` for the containers that have a file reader.
func fakeFiles(files map[string][]byte, readers map[string]string, calls *[]execCall) execFunc {
	return func(_ context.Context, _ *kube.Client, _, _, container string, cmd []string) (string, string, error) {
		*calls = append(*calls, execCall{container, strings.Join(cmd, " ")})
		if readers[container] != cmd[0] {
			return "", "", fmt.Errorf(`exec: %q: executable file not found in $PATH`, cmd[0])
		}
		b, ok := files[cmd[len(cmd)-1]]
		if !ok {
			return "", "", errors.New("no such file")
		}
		return string(b), "", nil
	}
}

func TestReadCertsProxyless(t *testing.T) {
	chain := append(testCert(t, "leaf"), testCert(t, "intermediate")...)
	root := testCert(t, "root")
	files := map[string][]byte{
		"/var/lib/istio/data/cert-chain.pem": chain,
		"/var/lib/istio/data/root-cert.pem":  root,
	}
	c := fakeClient(meshPod("echo-v1-a", true))

	// Our images: no cat in istio-proxy, the workload binary in the app container.
	var calls []execCall
	gotChain, gotRoot, err := readCerts(context.Background(), c, "echo", "echo-v1-a",
		fakeFiles(files, map[string]string{"echo": "/workload"}, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotChain, chain) || !bytes.Equal(gotRoot, root) {
		t.Error("certificates differ from the files")
	}
	want := []execCall{
		{"istio-proxy", "cat /var/lib/istio/data/cert-chain.pem"},
		{"echo", "/workload cat /var/lib/istio/data/cert-chain.pem"},
		{"echo", "/workload cat /var/lib/istio/data/root-cert.pem"},
	}
	if !slices.Equal(calls, want) {
		t.Errorf("exec calls %v, want %v", calls, want)
	}

	// An upstream proxyv2 image has cat.
	calls = nil
	if _, _, err := readCerts(context.Background(), c, "echo", "echo-v1-a",
		fakeFiles(files, map[string]string{"istio-proxy": "cat"}, &calls)); err != nil || len(calls) != 2 {
		t.Errorf("cat in istio-proxy: err %v calls %v", err, calls)
	}

	// Nothing can read files: every attempt is reported.
	calls = nil
	_, _, err = readCerts(context.Background(), c, "echo", "echo-v1-a", fakeFiles(files, nil, &calls))
	if err == nil || !strings.Contains(err.Error(), "istio-proxy: cat <file>") || !strings.Contains(err.Error(), "echo: /workload cat <file>") {
		t.Errorf("err = %v, want both attempts named", err)
	}

	// A file that is not PEM is rejected.
	bad := map[string][]byte{"/var/lib/istio/data/cert-chain.pem": []byte("cat: no such file\n"),
		"/var/lib/istio/data/root-cert.pem": root}
	calls = nil
	if _, _, err := readCerts(context.Background(), c, "echo", "echo-v1-a",
		fakeFiles(bad, map[string]string{"istio-proxy": "cat"}, &calls)); err == nil {
		t.Error("accepted a non-PEM certificate chain")
	}
}

func TestReadCertsNotInMesh(t *testing.T) {
	p := meshPod("plain", false)
	p.Spec.Containers = p.Spec.Containers[:1]
	_, _, err := readCerts(context.Background(), fakeClient(p), "echo", "plain", nil)
	if err == nil || !strings.Contains(err.Error(), "no istio-proxy container") {
		t.Errorf("err = %v", err)
	}
}

func envoyDump(chain, root []byte, flat bool) string {
	b64 := base64.StdEncoding.EncodeToString
	def := fmt.Sprintf(`{"name":"default","version_info":"2026-11-22","last_updated":"2026-11-22T03:00:00Z","secret":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret","name":"default","tls_certificate":{"certificate_chain":{"inline_bytes":%q},"private_key":{"inline_bytes":"W3JlZGFjdGVkXQ=="}}}}`, b64(chain))
	rca := fmt.Sprintf(`{"name":"ROOTCA","version_info":"2026-11-22","last_updated":"2026-11-22T03:00:00Z","secret":{"@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret","name":"ROOTCA","validation_context":{"trusted_ca":{"inline_bytes":%q}}}}`, b64(root))
	if flat {
		return `{"configs":[` + strings.Replace(def, `{`, `{"@type":"type.googleapis.com/envoy.admin.v3.SecretsConfigDump.DynamicSecret",`, 1) + "," +
			strings.Replace(rca, `{`, `{"@type":"type.googleapis.com/envoy.admin.v3.SecretsConfigDump.DynamicSecret",`, 1) + "]}\n"
	}
	return `{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","bootstrap":{}},` +
		`{"@type":"type.googleapis.com/envoy.admin.v3.SecretsConfigDump","dynamic_active_secrets":[` + def + "," + rca + "]}]}\n"
}

func TestParseEnvoySecrets(t *testing.T) {
	chain, root := testCert(t, "leaf"), testCert(t, "root")
	for _, flat := range []bool{false, true} {
		gotChain, gotRoot, err := parseEnvoySecrets([]byte(envoyDump(chain, root, flat)))
		if err != nil {
			t.Fatalf("flat=%v: %v", flat, err)
		}
		if !bytes.Equal(gotChain, chain) || !bytes.Equal(gotRoot, root) {
			t.Errorf("flat=%v: certificates differ", flat)
		}
	}
	if _, _, err := parseEnvoySecrets([]byte(`{"configs":[]}`)); err == nil || !strings.Contains(err.Error(), `no "default"`) {
		t.Errorf("empty dump: %v", err)
	}
}

func TestReadCertsSidecar(t *testing.T) {
	chain, root := testCert(t, "leaf"), testCert(t, "root")
	c := fakeClient(meshPod("echo-v1-s", false))
	var cmds []string
	exec := func(_ context.Context, _ *kube.Client, _, _, container string, cmd []string) (string, string, error) {
		cmds = append(cmds, container+": "+strings.Join(cmd, " "))
		return envoyDump(chain, root, false), "", nil
	}
	gotChain, gotRoot, err := readCerts(context.Background(), c, "echo", "echo-v1-s", exec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotChain, chain) || !bytes.Equal(gotRoot, root) {
		t.Error("certificates differ")
	}
	if want := []string{"istio-proxy: pilot-agent request GET config_dump?mask=dynamic_active_secrets"}; !slices.Equal(cmds, want) {
		t.Errorf("commands %q, want %q", cmds, want)
	}
}
