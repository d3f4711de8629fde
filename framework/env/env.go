// Package env is the provisioned environment as a file: the typed contract between `up` (which writes it after every
// step, so an interrupted `up` leaves a record of everything it created) and `test`, `status` and `down` (which read
// it). It is a leaf: every fact a later phase needs is a field here, in types defined here, and the package imports
// no other meshconform package.
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
)

const (
	APIVersion = "meshconform.io/v1alpha1"
	Kind       = "Environment"
	// FormatVersion is the layout of the file. It changes whenever a field is added with a meaning older readers
	// would get wrong, or a field changes meaning; Load refuses any other version instead of guessing.
	FormatVersion = 3
	fileName      = "environment.json"
)

// State is the environment file.
type State struct {
	APIVersion    string `json:"apiVersion"`
	Kind          string `json:"kind"`
	FormatVersion int    `json:"formatVersion"`
	// Name is the environment's identity on the machine (see identity.go): what its clusters, networks and rules carry.
	Name      string    `json:"name"`
	Topology  Topology  `json:"topology"`
	Engine    *Engine   `json:"engine,omitempty"`
	Images    Images    `json:"images"`
	Networks  []Network `json:"networks,omitempty"`
	Clusters  []Cluster `json:"clusters"`
	Mesh      *Mesh     `json:"mesh,omitempty"`
	Phases    []Phase   `json:"phases,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	dir string
}

// Topology is what the environment keeps of the topology it was brought up from; the per-cluster facts (role,
// network, primary) are in Clusters.
type Topology struct {
	Name       string     `json:"name"`
	Networking Networking `json:"networking"`
	// MeshID and TrustDomain are the mesh-wide settings the topology asked for.
	MeshID      string `json:"meshID"`
	TrustDomain string `json:"trustDomain"`
}

// Engine is the container engine the clusters run on.
type Engine struct {
	// Version is the server's version (e.g. 20.10.24+dfsg1, 29.0.0).
	Version string `json:"version"`
	// Host is DOCKER_HOST when set (empty: the default socket or context).
	Host string `json:"host,omitempty"`
}

// Images records which images the environment runs and why.
type Images struct {
	Source    ImageSource `json:"source"`
	Reason    string      `json:"reason"`
	NodeImage string      `json:"nodeImage"`
	// Loaded are images copied into every node after creation.
	Loaded []string `json:"loaded,omitempty"`
}

// Network is a docker network the environment created.
type Network struct {
	Name   string       `json:"name"`
	Bridge string       `json:"bridge"` // host interface name, needed for forwarding rules
	Subnet netip.Prefix `json:"subnet"`
}

// Access is how to reach a cluster's API server.
type Access struct {
	// Kubeconfig is for this host (kind's published port on 127.0.0.1).
	Kubeconfig string `json:"kubeconfig"`
	// InternalKubeconfig points at the control-plane container's address on its docker network: what other clusters
	// (istiod reading a remote secret) must use.
	InternalKubeconfig string `json:"internalKubeconfig"`
	// ControlPlaneIP is the control-plane container's address on the cluster's network.
	ControlPlaneIP string `json:"controlPlaneIP"`
	// Context is the kubeconfig context name.
	Context string `json:"context"`
}

// Cluster is one provisioned (or brought) cluster.
type Cluster struct {
	Name     string `json:"name"`
	KindName string `json:"kindName,omitempty"`
	Role     Role   `json:"role"`
	Network  string `json:"network"`
	// Primary is, for a remote, the primary whose istiod configures it.
	Primary string `json:"primary,omitempty"`
	// DockerNetwork is empty for bring-your-own clusters.
	DockerNetwork string       `json:"dockerNetwork,omitempty"`
	Nodes         []string     `json:"nodes,omitempty"`
	NodeIPs       []netip.Addr `json:"nodeIPs,omitempty"`
	Access        Access       `json:"access"`
	PodSubnet     string       `json:"podSubnet,omitempty"`
	ServiceSubnet string       `json:"serviceSubnet,omitempty"`
	PoolFirst     netip.Addr   `json:"poolFirst,omitzero"`
	PoolLast      netip.Addr   `json:"poolLast,omitzero"`
	// Provisioned is set for clusters meshconform created (false: brought by the user).
	Provisioned bool `json:"provisioned"`
}

// Mesh records how Istio was installed, for the suites and the conformance report.
type Mesh struct {
	Installer    Installer `json:"installer"`
	IstioVersion string    `json:"istioVersion"`
	Hub          string    `json:"hub,omitempty"`
	Tag          string    `json:"tag,omitempty"`
	DataPlane    DataPlane `json:"dataPlane"`
	// ExposeIstiod is how remotes reach their primary's istiod.
	ExposeIstiod IstiodExposure `json:"exposeIstiod,omitempty"`
	// Revision is the istiod revision or revision tag the user named (--revision, the topology's spec.mesh.revision):
	// what meshconform installed with, or, preinstalled, what the test namespaces are labelled for. Empty: none was
	// named (each cluster's Injection says what was chosen).
	Revision        string `json:"revision,omitempty"`
	TrustDomain     string `json:"trustDomain"`
	RootFingerprint string `json:"rootFingerprint"`
	// Clusters is keyed by cluster name.
	Clusters map[string]MeshCluster `json:"clusters"`
	// Workloads are the test workloads deployed for the suites.
	Workloads *Workloads `json:"workloads,omitempty"`
	// Notes are for the reader of the report (e.g. "east-west gateway pods cannot run: no Envoy image"). Nothing
	// reads them back: every fact a check needs is a field.
	Notes []string `json:"notes,omitempty"`
}

// MeshCluster is one cluster's part of the mesh.
type MeshCluster struct {
	IntermediateFingerprint string `json:"intermediateFingerprint"`
	// EastWestGateway is the gateway Service's LoadBalancer IP (multi-network and gateway-exposed istiod).
	EastWestGateway string `json:"eastWestGateway,omitempty"`
	// GatewayReady says whether gateway pods run.
	GatewayReady bool `json:"gatewayReady"`
	// GatewayCannotRun says that `up` found the gateway pods cannot run at all (no Envoy in the proxy image): the
	// specs that need the gateway's data plane skip for this cluster. A gateway that merely is not Ready is tested,
	// and fails.
	GatewayCannotRun bool `json:"gatewayCannotRun,omitempty"`
	// IstiodAddress is, on a primary serving remotes, the address remotes use; on a remote, the address it uses.
	IstiodAddress string `json:"istiodAddress,omitempty"`
	// IstioClusterID is the ID Istio knows the cluster by, recorded for preinstalled meshes; empty means the
	// cluster's name (what meshconform installs with).
	IstioClusterID string `json:"istioClusterID,omitempty"`
	// Injection is how the cluster's test workloads are injected: the namespace label and the istiod revision it
	// selects. nil: istio-injection=enabled and the default revision (what environments recorded before revisions).
	Injection *Injection `json:"injection,omitempty"`
	// Istiods are every istiod control plane the cluster runs, whichever is tested (primaries; a remote only when its
	// injection runs locally).
	Istiods []Istiod `json:"istiods,omitempty"`
}

// Injection is how a cluster's test workloads are injected.
type Injection struct {
	// Label=Value is the test namespaces' label: istio-injection=enabled, or istio.io/rev=<revision or tag>.
	Label string `json:"label"`
	Value string `json:"value"`
	// Revision is the istiod revision that injects and configures the workloads (a tag resolved), "default" for the
	// default one. On a remote, its primary's istiod of that revision serves them.
	Revision string `json:"revision"`
	// Tag is the revision tag the label names, if it names one.
	Tag string `json:"tag,omitempty"`
	// Webhook is the MutatingWebhookConfiguration that injects them.
	Webhook string `json:"webhook,omitempty"`
}

// Istiod is one istiod revision of a cluster.
type Istiod struct {
	Revision   string `json:"revision"`
	Deployment string `json:"deployment"`
	// Version is what the running istiod reports (its image tag when it cannot be asked).
	Version string `json:"version,omitempty"`
	// Tags are the revision tags pointing at it.
	Tags []string `json:"tags,omitempty"`
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

// New returns an empty state for a topology, to be saved in dir, for the environment called name.
func New(dir, name string, t Topology) *State {
	now := time.Now().UTC()
	return &State{APIVersion: APIVersion, Kind: Kind, FormatVersion: FormatVersion, Name: name, Topology: t,
		CreatedAt: now, UpdatedAt: now, dir: dir}
}

// ErrNoEnvironment means no environment file exists in the directory.
var ErrNoEnvironment = errors.New("no environment is up")

// ErrInvalid means the file exists but is not an environment this meshconform can use; the message lists every
// problem.
var ErrInvalid = errors.New("invalid environment file")

// Load reads the state from dir and validates it (Validate).
func Load(dir string) (*State, error) {
	path := filepath.Join(dir, fileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s in %s): run `meshconform up` first", ErrNoEnvironment, fileName, dir)
	}
	if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.dir = dir
	return s, nil
}

// Parse decodes and validates an environment file's content.
func Parse(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if s.APIVersion != APIVersion || s.Kind != Kind {
		return nil, fmt.Errorf("%w: not a meshconform environment (apiVersion %q kind %q)", ErrInvalid, s.APIVersion, s.Kind)
	}
	if s.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d, this meshconform reads version %d: bring it down with the "+
			"meshconform that wrote it, or remove the file and clean up by hand", ErrInvalid, s.FormatVersion, FormatVersion)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
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

// RecordPhase appends (or replaces) a phase's duration, ended now.
func (s *State) RecordPhase(name string, d time.Duration) { s.RecordPhaseEnded(name, d, time.Now()) }

// RecordPhaseEnded appends (or replaces) a phase that ended at the given time (a phase that ran in the background
// is recorded after it ended).
func (s *State) RecordPhaseEnded(name string, d time.Duration, ended time.Time) {
	ph := Phase{Name: name, Duration: d, Done: ended.UTC()}
	for i := range s.Phases {
		if s.Phases[i].Name == name {
			s.Phases[i] = ph
			return
		}
	}
	s.Phases = append(s.Phases, ph)
}
