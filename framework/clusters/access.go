package clusters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/meshconform/meshconform/framework/env"
)

// Access is how to reach a cluster's API server (recorded in the environment file).
type Access = env.Access

// ContainerIP returns a container's IPv4 address on a docker network.
func ContainerIP(ctx context.Context, container, network string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "--format",
		fmt.Sprintf(`{{ with index .NetworkSettings.Networks %q }}{{ .IPAddress }}{{ end }}`, network), container).Output()
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", container, exitDetail(err))
	}
	ip := strings.TrimSpace(string(out))
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("container %s has no address on network %s", container, network)
	}
	return ip, nil
}

// WriteKubeconfigs writes the host and in-network kubeconfigs of a kind cluster into dir, mode 0600.
func WriteKubeconfigs(ctx context.Context, name, network, dir string) (Access, error) {
	p := NewProvider(io.Discard)
	a := Access{Context: "kind-" + name}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return a, err
	}
	host, err := p.KubeConfig(name, false)
	if err != nil {
		return a, fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	internal, err := p.KubeConfig(name, true)
	if err != nil {
		return a, fmt.Errorf("internal kubeconfig of %s: %w", name, err)
	}
	if a.ControlPlaneIP, err = ContainerIP(ctx, name+"-control-plane", network); err != nil {
		return a, err
	}
	// kind's internal kubeconfig names the container by hostname, which only docker's DNS on that one network
	// resolves; the address works from every network that may route to it.
	cfg, err := clientcmd.Load([]byte(internal))
	if err != nil {
		return a, fmt.Errorf("parse internal kubeconfig of %s: %w", name, err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + net.JoinHostPort(a.ControlPlaneIP, "6443")
	}
	a.Kubeconfig = filepath.Join(dir, name+".kubeconfig")
	a.InternalKubeconfig = filepath.Join(dir, name+".internal.kubeconfig")
	if err := os.WriteFile(a.Kubeconfig, []byte(host), 0o600); err != nil {
		return a, err
	}
	if err := clientcmd.WriteToFile(*cfg, a.InternalKubeconfig); err != nil {
		return a, err
	}
	return a, os.Chmod(a.InternalKubeconfig, 0o600)
}

// LoadImages copies local docker images into every node of a cluster (what `kind load docker-image` does).
func LoadImages(ctx context.Context, name string, refs ...string) error {
	_, err := LoadImagesInto(ctx, []string{name}, refs...)
	return err
}

// LoadImagesInto copies local docker images into every node of every named cluster that does not hold them yet
// (the same image ID under that name, as `kind load` decides: a node image that preloads them, or an earlier load):
// one `docker save` of what is missing anywhere (the archive is the slow part to make, and the same for every node),
// then every node that lacks something imports it at once. It returns how many nodes imported.
func LoadImagesInto(ctx context.Context, names []string, refs ...string) (int, error) {
	if len(refs) == 0 || len(names) == 0 {
		return 0, nil
	}
	var all []nodes.Node
	p := NewProvider(io.Discard)
	for _, name := range names {
		ns, err := p.ListNodes(name)
		if err != nil {
			return 0, fmt.Errorf("list nodes of %s: %w", name, err)
		}
		if len(ns) == 0 {
			return 0, fmt.Errorf("cluster %s has no nodes", name)
		}
		all = append(all, ns...)
	}
	ids, err := localImageIDs(ctx, refs)
	if err != nil {
		return 0, err
	}
	// Asked of every node at once: each answer is a `crictl inspecti` per image inside the node.
	lacks := make([][]string, len(all))
	var wg sync.WaitGroup
	for i, n := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range refs {
				if id, err := nodeutils.ImageID(n, r); err != nil || id != ids[r] {
					lacks[i] = append(lacks[i], r)
				}
			}
		}()
	}
	wg.Wait()
	var lacking []nodes.Node
	missing := map[string]bool{}
	for i, n := range all {
		for _, r := range lacks[i] {
			missing[r] = true
		}
		if len(lacks[i]) > 0 {
			lacking = append(lacking, n)
		}
	}
	if len(lacking) == 0 {
		return 0, nil
	}
	var save []string
	for _, r := range refs {
		if missing[r] {
			save = append(save, r)
		}
	}
	f, err := os.CreateTemp("", "meshconform-images-*.tar")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"save", "-o", f.Name()}, save...)...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("docker save %s: %w: %s", strings.Join(save, " "), err, out)
	}
	errs := make([]error, len(lacking))
	for i, n := range lacking {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := os.Open(f.Name())
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			if err := nodeutils.LoadImageArchive(n, r); err != nil {
				errs[i] = fmt.Errorf("load images into %s: %w", n.String(), err)
			}
		}()
	}
	wg.Wait()
	return len(lacking), errors.Join(errs...)
}

// localImageIDs are the host docker's image IDs of refs.
func localImageIDs(ctx context.Context, refs []string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "docker", append([]string{"image", "inspect", "-f", "{{.Id}}"}, refs...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker image inspect %s: %w", strings.Join(refs, " "), exitDetail(err))
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(refs) {
		return nil, fmt.Errorf("docker image inspect %s: %d IDs for %d images", strings.Join(refs, " "), len(lines), len(refs))
	}
	ids := map[string]string{}
	for i, r := range refs {
		ids[r] = lines[i]
	}
	return ids, nil
}

func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
