// Package clusters creates and deletes kind clusters through kind's Go library, on a chosen docker network.
//
// kind picks the docker network from the process-global KIND_EXPERIMENTAL_DOCKER_NETWORK inside Provider.Create, so
// clusters on different networks cannot be created concurrently from one process. Each creation therefore runs in a
// child process (this binary, re-executed) whose environment names its network; the parent runs them in parallel.
package clusters

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
)

// Spec is one kind cluster to create.
type Spec struct {
	// Name is the kind cluster name (env.KindClusterName: the environment's and the topology cluster's names).
	Name          string `json:"name"`
	NodeImage     string `json:"nodeImage"`
	Workers       int    `json:"workers"`
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
	// Network is the docker network the nodes join.
	Network string `json:"network"`
}

func (s Spec) kindConfig() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     s.Name,
		Networking: v1alpha4.Networking{
			PodSubnet:     s.PodSubnet,
			ServiceSubnet: s.ServiceSubnet,
		},
		Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, Image: s.NodeImage}},
	}
	for i := 0; i < s.Workers; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: s.NodeImage})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

// NewProvider returns kind's docker provider with a logger writing to out.
func NewProvider(out io.Writer) *cluster.Provider {
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(newLogger(out)))
}

const childEnv = "MESHCONFORM_KIND_CREATE"

// RunChildIfRequested must be called first in main (and TestMain) of any binary that calls Create: when this process
// is a creation child it creates the cluster named by its environment and exits.
func RunChildIfRequested() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var s Spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintf(os.Stderr, "bad %s: %v\n", childEnv, err)
		os.Exit(2)
	}
	p := NewProvider(os.Stdout)
	err := p.Create(s.Name,
		cluster.CreateWithV1Alpha4Config(s.kindConfig()),
		cluster.CreateWithNodeImage(s.NodeImage),
		// The parent writes kubeconfigs where it wants them; kind must not touch ~/.kube/config.
		cluster.CreateWithKubeconfigPath(os.DevNull),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "create cluster %s: %v\n", s.Name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Options tune Create.
type Options struct {
	// Out receives progress lines prefixed with the cluster name.
	Out io.Writer
	// Attempts per cluster (default 2): a failed attempt is deleted before the next.
	Attempts int
}

// Create creates the clusters in parallel, each in its own child process. On error every cluster that failed is
// deleted; clusters that succeeded are kept (the caller's state records them for `down`).
func Create(ctx context.Context, specs []Spec, opts Options) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 2
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	out := &lockedWriter{w: opts.Out}
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 1; attempt <= opts.Attempts; attempt++ {
				began := time.Now()
				errs[i] = createChild(ctx, self, s, out)
				if errs[i] == nil {
					fmt.Fprintf(out, "[%s] cluster ready in %s\n", s.Name, time.Since(began).Round(time.Second))
					return
				}
				// A half-created cluster is removed before retrying or giving up.
				_ = NewProvider(io.Discard).Delete(s.Name, os.DevNull)
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
				fmt.Fprintf(out, "[%s] attempt %d/%d failed: %v\n", s.Name, attempt, opts.Attempts, errs[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func createChild(ctx context.Context, self string, s Spec, out io.Writer) error {
	raw, _ := json.Marshal(s)
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw), "KIND_EXPERIMENTAL_DOCKER_NETWORK="+s.Network)
	// Let the child finish its docker call on cancel rather than leaving a container half-made; `down` removes it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.Contains(line, "Here be dragons") || strings.Contains(line, "Overriding docker network") {
				continue
			}
			tail = append(tail, line)
			if len(tail) > 8 {
				tail = tail[1:]
			}
			fmt.Fprintf(out, "[%s] %s\n", s.Name, line)
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("create cluster %s on network %s: %w: %s", s.Name, s.Network, err, strings.Join(tail, " | "))
	}
	return nil
}

// Delete deletes kind clusters by name; a cluster that does not exist is not an error.
func Delete(names ...string) error {
	p := NewProvider(io.Discard)
	var errs []error
	for _, n := range names {
		if err := p.Delete(n, os.DevNull); err != nil {
			errs = append(errs, fmt.Errorf("delete cluster %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// List returns every kind cluster on the engine (meshconform's and anyone else's: callers decide what is theirs).
func List() ([]string, error) {
	all, err := NewProvider(io.Discard).List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	return all, nil
}

// Attachments returns, for every kind cluster on the engine, the docker networks its node containers are attached
// to: what tells a cluster of a meshconform environment (on that environment's labelled network) from a look-alike.
func Attachments(ctx context.Context) (map[string][]string, error) {
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+kindClusterLabel,
		"--format", fmt.Sprintf("{{.Label %q}}\t{{.Networks}}", kindClusterLabel)).Output()
	if err != nil {
		return nil, fmt.Errorf("list kind node containers: %w", err)
	}
	return parseAttachments(string(out)), nil
}

// kindClusterLabel is the label kind puts on every node container, valued with the cluster's name.
const kindClusterLabel = "io.x-k8s.kind.cluster"

func parseAttachments(listing string) map[string][]string {
	att := map[string][]string{}
	for _, line := range strings.Split(listing, "\n") {
		name, nets, ok := strings.Cut(line, "\t")
		if name = strings.TrimSpace(name); !ok || name == "" {
			continue
		}
		for _, n := range strings.Split(nets, ",") {
			if n = strings.TrimSpace(n); n != "" && !slices.Contains(att[name], n) {
				att[name] = append(att[name], n)
			}
		}
		if _, seen := att[name]; !seen {
			att[name] = nil
		}
	}
	return att
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
