package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Target is one cluster an installer works on.
type Target struct {
	// Name is the topology cluster name.
	Name string
	// Kubeconfig and Context reach the cluster from this host.
	Kubeconfig string
	Context    string
	Client     *kube.Client
}

// Installer puts Istio into clusters. Install and InstallGateway are idempotent; neither writes secrets.
type Installer interface {
	// Name is istioctl, helm or preinstalled.
	Name() env.Installer
	// Check verifies the installer's tools are there. New checks them; Resolve leaves only the image kit's istioctl
	// unchecked (the kit builds it later, with its images), so Install checks again before it starts.
	Check() error
	// Version is the Istio version the installer installs ("" when it installs nothing).
	Version(ctx context.Context) (string, error)
	// Install installs the control plane described by op (a primary's istiod, or a remote's profile) and returns when
	// the installer considers it done.
	Install(ctx context.Context, t Target, op *render.IstioOperator, file string) error
	// InstallGateway installs the gateway described by op without waiting for its pods (they may never run where
	// no Envoy image exists; the caller judges them).
	InstallGateway(ctx context.Context, t Target, op *render.IstioOperator, file string) error
	// Verify checks the control plane of revision rev ("" or "default": the default one) the cluster runs and returns
	// istiod's version (primaries) or "" (remotes).
	Verify(ctx context.Context, t Target, primary bool, rev string) (string, error)
}

// Options name the installer and its tools, as the user gave them; Resolve fills the defaults.
type Options struct {
	// Installer is istioctl (default), helm or preinstalled.
	Installer env.Installer
	// Istioctl is the istioctl binary (istioctl installer).
	Istioctl string
	// Helm is the helm binary and Charts the directory of Istio's base, istiod and gateway charts (helm installer).
	Helm, Charts string
	// Timeout bounds one `istioctl install` run, which waits for its own resources (--readiness-timeout), and one
	// `helm upgrade --install --wait`. Zero: DefaultTimeout; above MaxTimeout it is rejected.
	Timeout time.Duration
}

// DefaultTimeout and MaxTimeout bound Options.Timeout.
const (
	DefaultTimeout = 5 * time.Minute
	MaxTimeout     = 10 * time.Minute
)

// timeout is o.Timeout with its default, checked against MaxTimeout.
func (o Options) timeout() (time.Duration, error) {
	switch {
	case o.Timeout == 0:
		return DefaultTimeout, nil
	case o.Timeout < 0:
		return 0, fmt.Errorf("istio timeout Install: %s is negative", o.Timeout)
	case o.Timeout > MaxTimeout:
		return 0, fmt.Errorf("istio timeout Install: %s exceeds the maximum %s", o.Timeout, MaxTimeout)
	}
	return o.Timeout, nil
}

// New returns the named installer, its tools checked.
func New(opts Options) (Installer, error) {
	inst, err := build(opts)
	if err != nil {
		return nil, err
	}
	if err := inst.Check(); err != nil {
		return nil, err
	}
	return inst, nil
}

// build makes the named installer; only the kit's istioctl, built later, is left unchecked (Check checks it).
func build(opts Options) (Installer, error) {
	timeout, err := opts.timeout()
	if err != nil {
		return nil, err
	}
	switch opts.Installer {
	case "", env.InstallerIstioctl:
		if opts.Istioctl == "" {
			return nil, errors.New("istioctl installer: no istioctl binary given (--istioctl PATH)")
		}
		return &istioctl{bin: opts.Istioctl, timeout: timeout}, nil
	case env.InstallerPreinstalled:
		return preinstalled{}, nil
	case env.InstallerHelm:
		return newHelm(opts, timeout)
	}
	return nil, fmt.Errorf("unknown installer %q: use istioctl, helm or preinstalled", opts.Installer)
}

// istioctl runs an istioctl binary.
type istioctl struct {
	bin     string
	timeout time.Duration
}

func (i *istioctl) Name() env.Installer { return env.InstallerIstioctl }

// Check finds the binary, as a path or on PATH.
func (i *istioctl) Check() error {
	if _, err := os.Stat(i.bin); err != nil {
		if _, lerr := exec.LookPath(i.bin); lerr != nil {
			return fmt.Errorf("istioctl installer: %w", err)
		}
	}
	return nil
}

// Version asks the binary itself (--remote=false: no cluster needed).
func (i *istioctl) Version(ctx context.Context) (string, error) {
	out, err := i.run(ctx, "version", "--remote=false", "-o", "json")
	if err != nil {
		short, serr := i.run(ctx, "version", "--remote=false", "--short")
		if serr != nil {
			return "", err
		}
		return strings.TrimSpace(string(short)), nil
	}
	return parseIstioctlVersion(out)
}

func parseIstioctlVersion(out []byte) (string, error) {
	var v struct {
		ClientVersion struct {
			Version string `json:"version"`
		} `json:"clientVersion"`
	}
	// istioctl may print warnings before the JSON document.
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return "", fmt.Errorf("parse `istioctl version -o json`: %w", err)
	}
	if v.ClientVersion.Version == "" {
		return "", errors.New("`istioctl version -o json` reported no clientVersion.version")
	}
	return v.ClientVersion.Version, nil
}

func (i *istioctl) Install(ctx context.Context, t Target, _ *render.IstioOperator, file string) error {
	args := []string{"install", "-y", "-f", file, "--readiness-timeout", i.timeout.String()}
	_, err := i.run(ctx, append(args, kubeArgs(t)...)...)
	if err != nil {
		return fmt.Errorf("%s: istioctl install -f %s: %w", t.Name, file, err)
	}
	return nil
}

// InstallGateway renders the gateway with `istioctl manifest generate` (the install guide's way) and applies it with
// server-side apply: `istioctl install` would block until its readiness timeout on pods that cannot run here.
func (i *istioctl) InstallGateway(ctx context.Context, t Target, _ *render.IstioOperator, file string) error {
	out, err := i.run(ctx, "manifest", "generate", "-f", file)
	if err != nil {
		return fmt.Errorf("%s: istioctl manifest generate -f %s: %w", t.Name, file, err)
	}
	if err := t.Client.ApplyManifest(ctx, out, render.Namespace); err != nil {
		return fmt.Errorf("%s: apply the gateway rendered from %s: %w", t.Name, file, err)
	}
	return nil
}

func (i *istioctl) Verify(ctx context.Context, t Target, primary bool, rev string) (string, error) {
	return verifyControlPlane(ctx, t.Client, primary, rev)
}

func kubeArgs(t Target) []string {
	args := []string{"--kubeconfig", t.Kubeconfig}
	if t.Context != "" {
		args = append(args, "--context", t.Context)
	}
	return args
}

// run executes istioctl and returns stdout; a failure carries the tail of its output.
func (i *istioctl) run(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, i.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s", err, tail(stderr.String()+stdout.String(), 20))
	}
	return stdout.Bytes(), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// preinstalled installs nothing: the mesh is the user's; it only verifies.
type preinstalled struct{}

func (preinstalled) Name() env.Installer                     { return env.InstallerPreinstalled }
func (preinstalled) Check() error                            { return nil }
func (preinstalled) Version(context.Context) (string, error) { return "", nil }
func (preinstalled) Install(ctx context.Context, t Target, op *render.IstioOperator, _ string) error {
	rev := ""
	if op != nil {
		rev = op.Spec.Revision
	}
	_, err := verifyControlPlane(ctx, t.Client, op != nil && op.Spec.Profile != render.ProfileRemote, rev)
	return err
}
func (preinstalled) InstallGateway(context.Context, Target, *render.IstioOperator, string) error {
	return nil
}
func (preinstalled) Verify(ctx context.Context, t Target, primary bool, rev string) (string, error) {
	return verifyControlPlane(ctx, t.Client, primary, rev)
}

// verifyControlPlane checks that a primary runs an istiod Deployment of revision rev ("" or "default" for the
// default one; and returns its version) or that a remote has an injection webhook for it.
func verifyControlPlane(ctx context.Context, c *kube.Client, primary bool, rev string) (string, error) {
	cs := c.Clientset
	if rev == "" {
		rev = render.DefaultRevision
	}
	if !primary {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, render.Namespace, metav1.GetOptions{}); err != nil {
			return "", fmt.Errorf("%s: remote has no %s namespace: install the remote profile first: %w", c.Name, render.Namespace, err)
		}
		revs, err := istiod.ReadRevisions(ctx, c)
		if err != nil {
			return "", err
		}
		if _, ok := revs.Injector(rev); !ok {
			return "", fmt.Errorf("%s: remote has no injection MutatingWebhookConfiguration for revision %s (%s): the remote "+
				"profile is not installed", c.Name, rev, render.InjectorWebhookName(rev))
		}
		return "", nil
	}
	d, err := istiod.Deployment(ctx, c, rev)
	if err != nil {
		if render.IsDefaultRevision(rev) {
			return "", fmt.Errorf("%w: Istio's control plane is not installed (use --installer istioctl to install it)", err)
		}
		return "", err
	}
	if v := istiod.RunningVersion(ctx, c, rev); v != "" {
		return v, nil
	}
	// Helm's app.kubernetes.io/version is last: development charts say 1.0.0.
	if v := d.Labels["operator.istio.io/version"]; v != "" {
		return v, nil
	}
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if v := imageTag(ctr.Image); ctr.Name == "discovery" && v != "" && v != "latest" {
			return v, nil
		}
	}
	return d.Labels["app.kubernetes.io/version"], nil
}

// parseIstiodVersion reads istiod's /version answer (istiod.ParseVersion).
func parseIstiodVersion(s string) string { return istiod.ParseVersion(s) }

// imageTag is the tag of an image reference ("" when it has none or is pinned by digest only).
func imageTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[colon+1:]
	}
	return ""
}
