// Package env is the provisioned environment as a file: what `up` made and how to reach it, for `test`, `status` and
// `down`. It is saved after every step, so an interrupted `up` leaves a record of everything it created.
package env

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/network"
	"github.com/meshconform/meshconform/framework/topology"
)

const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "Environment"
	fileName   = "environment.json"
)

// State is the environment file.
type State struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Topology   *topology.Topology `json:"topology"`
	Images     Images             `json:"images"`
	Networks   []network.Network  `json:"networks,omitempty"`
	Clusters   []Cluster          `json:"clusters"`
	Mesh       *Mesh              `json:"mesh,omitempty"`
	Phases     []Phase            `json:"phases,omitempty"`
	CreatedAt  time.Time          `json:"createdAt"`
	UpdatedAt  time.Time          `json:"updatedAt"`

	dir string
}

// Images records which images the environment runs and why.
type Images struct {
	// Source is "offline" (built here by the image kit) or "upstream" (pulled from registries).
	Source    string `json:"source"`
	Reason    string `json:"reason"`
	NodeImage string `json:"nodeImage"`
	// Loaded are images copied into every node after creation.
	Loaded []string `json:"loaded,omitempty"`
}

// Cluster is one provisioned (or brought) cluster.
type Cluster struct {
	Name     string        `json:"name"`
	KindName string        `json:"kindName,omitempty"`
	Role     topology.Role `json:"role"`
	Network  string        `json:"network"`
	// DockerNetwork is empty for bring-your-own clusters.
	DockerNetwork string          `json:"dockerNetwork,omitempty"`
	Nodes         []string        `json:"nodes,omitempty"`
	NodeIPs       []netip.Addr    `json:"nodeIPs,omitempty"`
	Access        clusters.Access `json:"access"`
	PodSubnet     string          `json:"podSubnet,omitempty"`
	ServiceSubnet string          `json:"serviceSubnet,omitempty"`
	PoolFirst     netip.Addr      `json:"poolFirst,omitzero"`
	PoolLast      netip.Addr      `json:"poolLast,omitzero"`
	Provisioned   bool            `json:"provisioned"`
}

// Mesh records how Istio was installed, for the suites and the conformance report.
type Mesh struct {
	// Installer is istioctl | helm | preinstalled.
	Installer    string `json:"installer"`
	IstioVersion string `json:"istioVersion"`
	Hub          string `json:"hub,omitempty"`
	Tag          string `json:"tag,omitempty"`
	// DataPlane is proxyless (gRPC xDS, pilot-agent only) or sidecar (Envoy).
	DataPlane string `json:"dataPlane"`
	// ExposeIstiod is how remotes reach their primary's istiod: gateway (east-west gateway, the install guide's way)
	// or loadbalancer (istiod's own LoadBalancer Service, for where the gateway data plane cannot run).
	ExposeIstiod    string `json:"exposeIstiod,omitempty"`
	TrustDomain     string `json:"trustDomain"`
	RootFingerprint string `json:"rootFingerprint"`
	// Clusters is keyed by topology cluster name.
	Clusters map[string]MeshCluster `json:"clusters"`
	// Workloads are the test workloads deployed for the suites.
	Workloads *Workloads `json:"workloads,omitempty"`
	// Notes are facts the report must carry (e.g. "east-west gateway pods cannot run: no Envoy image").
	Notes []string `json:"notes,omitempty"`
}

// MeshCluster is one cluster's part of the mesh.
type MeshCluster struct {
	IntermediateFingerprint string `json:"intermediateFingerprint"`
	// EastWestGateway is the gateway Service's LoadBalancer IP (multi-network and gateway-exposed istiod).
	EastWestGateway string `json:"eastWestGateway,omitempty"`
	// GatewayReady says whether gateway pods run (false where no Envoy image exists).
	GatewayReady bool `json:"gatewayReady"`
	// IstiodAddress is, on a primary serving remotes, the address remotes use; on a remote, the address it uses.
	IstiodAddress string `json:"istiodAddress,omitempty"`
	// IstioClusterID is the ID Istio knows the cluster by, recorded for preinstalled meshes; empty means the
	// cluster's name (what meshconform installs with).
	IstioClusterID string `json:"istioClusterID,omitempty"`
}

// Workloads are the test workloads of the suites.
type Workloads struct {
	Namespace string `json:"namespace"`
	Image     string `json:"image"`
	// Service is the echo Service name; Port its gRPC port.
	Service string `json:"service"`
	Port    int    `json:"port"`
	// Versions maps cluster name to the echo version it runs (v1 in cluster1, v2 in cluster2, ...).
	Versions map[string]string `json:"versions"`
}

// Phase is one step of `up` with its duration.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Done     time.Time     `json:"done"`
}

// DefaultDir is $MESHCONFORM_HOME, else ~/.meshconform.
func DefaultDir() string {
	if d := os.Getenv("MESHCONFORM_HOME"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".meshconform")
	}
	return ".meshconform"
}

// New returns an empty state for a topology, to be saved in dir.
func New(dir string, t *topology.Topology) *State {
	now := time.Now().UTC()
	return &State{APIVersion: APIVersion, Kind: Kind, Topology: t, CreatedAt: now, UpdatedAt: now, dir: dir}
}

// ErrNoEnvironment means no environment file exists in the directory.
var ErrNoEnvironment = errors.New("no environment is up")

// Load reads the state from dir.
func Load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s in %s): run `meshconform up` first", ErrNoEnvironment, fileName, dir)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, fileName), err)
	}
	if s.APIVersion != APIVersion || s.Kind != Kind {
		return nil, fmt.Errorf("%s: not a meshconform environment (apiVersion %q kind %q)", filepath.Join(dir, fileName), s.APIVersion, s.Kind)
	}
	s.dir = dir
	return &s, nil
}

// Dir is where the state and the kubeconfigs live.
func (s *State) Dir() string { return s.dir }

// Path is the state file's path.
func (s *State) Path() string { return filepath.Join(s.dir, fileName) }

// KubeconfigDir is where cluster kubeconfigs are written.
func (s *State) KubeconfigDir() string { return filepath.Join(s.dir, "kubeconfig") }

// Save writes the state atomically, readable by its owner only (it names kubeconfigs holding credentials).
func (s *State) Save() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	s.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.Path() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.Path())
}

// Remove deletes the state file and the kubeconfigs.
func (s *State) Remove() error {
	if err := os.RemoveAll(s.KubeconfigDir()); err != nil {
		return err
	}
	if err := os.Remove(s.Path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Cluster returns the named cluster's record, adding an empty one if missing.
func (s *State) Cluster(name string) *Cluster {
	for i := range s.Clusters {
		if s.Clusters[i].Name == name {
			return &s.Clusters[i]
		}
	}
	s.Clusters = append(s.Clusters, Cluster{Name: name})
	return &s.Clusters[len(s.Clusters)-1]
}

// Network returns the named docker network's record.
func (s *State) Network(name string) (network.Network, bool) {
	for _, n := range s.Networks {
		if n.Name == name {
			return n, true
		}
	}
	return network.Network{}, false
}

// RecordPhase appends (or replaces) a phase's duration.
func (s *State) RecordPhase(name string, d time.Duration) {
	for i := range s.Phases {
		if s.Phases[i].Name == name {
			s.Phases[i] = Phase{Name: name, Duration: d, Done: time.Now().UTC()}
			return
		}
	}
	s.Phases = append(s.Phases, Phase{Name: name, Duration: d, Done: time.Now().UTC()})
}
