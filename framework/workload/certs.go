package workload

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/text"
)

// Files pilot-agent writes in CertDir for gRPC.
const (
	CertChainFile = "cert-chain.pem"
	RootCertFile  = "root-cert.pem"
)

// envoySecretsPath asks Envoy's admin API (through pilot-agent) for the secrets it holds, as istioctl proxy-config
// secret does; Envoy redacts private keys.
const envoySecretsPath = "config_dump?mask=dynamic_active_secrets"

// ReadCerts returns the certificate chain and root certificate a pod's workload holds, as PEM.
//
// Proxyless pods (grpc-agent template) read them from the files pilot-agent writes in CertDir, which is mounted in
// istio-proxy and in every application container; it tries, in order, `cat` in istio-proxy (upstream proxyv2
// images), then `/workload cat` in the application containers (an image with no shell). Sidecar pods ask Envoy for
// its "default" and "ROOTCA" secrets through `pilot-agent request`. Every failed attempt is reported when none works.
func ReadCerts(ctx context.Context, c *kube.Client, ns, pod string) (certChain, root []byte, err error) {
	return readCerts(ctx, c, ns, pod, kubeExec)
}

type certSource struct {
	container string
	// cmd reads one file; nil for the Envoy source, which reads both at once.
	cmd   func(file string) []string
	envoy bool
}

func (s certSource) String() string {
	if s.envoy {
		return s.container + ": pilot-agent request GET " + envoySecretsPath
	}
	return s.container + ": " + strings.Join(s.cmd("<file>"), " ")
}

func readCerts(ctx context.Context, c *kube.Client, ns, pod string, exec execFunc) ([]byte, []byte, error) {
	p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: get pod %s/%s: %w", c.Name, ns, pod, err)
	}
	sources := certSources(p)
	if len(sources) == 0 {
		return nil, nil, fmt.Errorf("%s: pod %s/%s has no %s container: not part of the mesh (%s)", c.Name, ns, pod,
			ProxyContainer, describePod(p))
	}
	var errs []error
	for _, src := range sources {
		chain, root, err := readFrom(ctx, c, ns, pod, src, exec)
		if err == nil {
			return chain, root, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", src, err))
	}
	return nil, nil, fmt.Errorf("%s: read workload certificates of %s/%s: %w", c.Name, ns, pod, errors.Join(errs...))
}

// certSources are the ways to read the pod's certificates, most likely first.
func certSources(p *corev1.Pod) []certSource {
	if !kube.HasContainer(p, ProxyContainer) {
		return nil
	}
	cat := func(file string) []string { return []string{"cat", file} }
	ownCat := func(file string) []string { return []string{Binary, "cat", file} }
	files := []certSource{{container: ProxyContainer, cmd: cat}}
	for _, ctr := range p.Spec.Containers {
		if ctr.Name != ProxyContainer {
			files = append(files, certSource{container: ctr.Name, cmd: ownCat})
		}
	}
	envoy := certSource{container: ProxyContainer, envoy: true}
	if isProxyless(p) {
		return files
	}
	// Sidecar: Envoy holds the certificates in memory; files exist only if OUTPUT_CERTS was set.
	return append([]certSource{envoy}, files...)
}

func isProxyless(p *corev1.Pod) bool {
	for t := range strings.SplitSeq(p.Annotations[TemplatesAnnotation], ",") {
		if strings.TrimSpace(t) == GRPCAgentTemplate {
			return true
		}
	}
	return false
}

func readFrom(ctx context.Context, c *kube.Client, ns, pod string, src certSource, exec execFunc) ([]byte, []byte, error) {
	if src.envoy {
		out, _, err := exec(ctx, c, ns, pod, src.container, []string{"pilot-agent", "request", "GET", envoySecretsPath})
		if err != nil {
			return nil, nil, err
		}
		return parseEnvoySecrets([]byte(out))
	}
	var got [2][]byte
	for i, file := range []string{CertChainFile, RootCertFile} {
		out, _, err := exec(ctx, c, ns, pod, src.container, src.cmd(path.Join(CertDir, file)))
		if err != nil {
			return nil, nil, err
		}
		if err := checkPEM([]byte(out)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		got[i] = []byte(out)
	}
	return got[0], got[1], nil
}

// checkPEM accepts input holding at least one CERTIFICATE block.
func checkPEM(b []byte) error {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return fmt.Errorf("no PEM certificate in %q", text.Tail(string(b), 200))
		}
		if blk.Type == "CERTIFICATE" {
			return nil
		}
	}
}

// envoyConfigDump is the part of Envoy's /config_dump that holds secrets. With ?mask= the entries are
// SecretsConfigDump messages (dynamic_active_secrets inside); with ?resource= each entry is one DynamicSecret.
type envoyConfigDump struct {
	Configs []struct {
		envoyDynamicSecret
		DynamicActiveSecrets []envoyDynamicSecret `json:"dynamic_active_secrets"`
	} `json:"configs"`
}

type envoyDynamicSecret struct {
	Name   string `json:"name"`
	Secret *struct {
		Name           string `json:"name"`
		TLSCertificate *struct {
			CertificateChain struct {
				InlineBytes []byte `json:"inline_bytes"`
			} `json:"certificate_chain"`
		} `json:"tls_certificate"`
		ValidationContext *struct {
			TrustedCA struct {
				InlineBytes []byte `json:"inline_bytes"`
			} `json:"trusted_ca"`
		} `json:"validation_context"`
	} `json:"secret"`
}

// parseEnvoySecrets takes the workload chain from Envoy's "default" secret and the root from "ROOTCA".
func parseEnvoySecrets(b []byte) (chain, root []byte, err error) {
	var dump envoyConfigDump
	if err := json.Unmarshal(b, &dump); err != nil {
		return nil, nil, fmt.Errorf("parse Envoy config dump: %w", err)
	}
	var secrets []envoyDynamicSecret
	for _, c := range dump.Configs {
		secrets = append(secrets, c.DynamicActiveSecrets...)
		if c.Secret != nil {
			secrets = append(secrets, c.envoyDynamicSecret)
		}
	}
	var names []string
	for _, s := range secrets {
		if s.Secret == nil {
			continue
		}
		names = append(names, s.Name)
		switch {
		case s.Name == "default" && s.Secret.TLSCertificate != nil:
			chain = s.Secret.TLSCertificate.CertificateChain.InlineBytes
		case s.Name == "ROOTCA" && s.Secret.ValidationContext != nil:
			root = s.Secret.ValidationContext.TrustedCA.InlineBytes
		}
	}
	slices.Sort(names)
	switch {
	case len(chain) == 0:
		return nil, nil, fmt.Errorf("Envoy holds no \"default\" certificate chain (active secrets: %v)", names)
	case len(root) == 0:
		return nil, nil, fmt.Errorf("Envoy holds no \"ROOTCA\" trusted CA (active secrets: %v)", names)
	}
	if err := checkPEM(chain); err != nil {
		return nil, nil, fmt.Errorf("Envoy's default secret: %w", err)
	}
	if err := checkPEM(root); err != nil {
		return nil, nil, fmt.Errorf("Envoy's ROOTCA secret: %w", err)
	}
	return chain, root, nil
}
