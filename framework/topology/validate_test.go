package topology

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// doc is a topology file with a valid header and the given spec body
// (indented two spaces under spec:).
func doc(spec string) string {
	return "apiVersion: meshconform.io/v1alpha1\nkind: Topology\nmetadata: {name: t}\nspec:\n" + spec
}

const twoPrimaries = `  clusters:
  - {name: cluster1, role: primary}
  - {name: cluster2, role: primary}
`

func TestParseRejects(t *testing.T) {
	long34 := strings.Repeat("a", 34)
	cases := []struct {
		name string
		yaml string
		want []string // substrings that must all appear in the error
	}{
		// Header.
		{"missing apiVersion", "kind: Topology\nmetadata: {name: t}\nspec:\n" + twoPrimaries,
			[]string{"apiVersion: missing: set apiVersion: meshconform.io/v1alpha1"}},
		{"wrong apiVersion", "apiVersion: meshconform.io/v1\nkind: Topology\nmetadata: {name: t}\nspec:\n" + twoPrimaries,
			[]string{`apiVersion: unsupported "meshconform.io/v1": use meshconform.io/v1alpha1`}},
		{"missing kind", "apiVersion: meshconform.io/v1alpha1\nmetadata: {name: t}\nspec:\n" + twoPrimaries,
			[]string{"kind: missing: set kind: Topology"}},
		{"wrong kind", "apiVersion: meshconform.io/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n" + twoPrimaries,
			[]string{`kind: unsupported "Cluster": use Topology`}},
		{"empty name", "apiVersion: meshconform.io/v1alpha1\nkind: Topology\nmetadata: {name: \"\"}\nspec:\n" + twoPrimaries,
			[]string{"metadata.name: missing"}},
		{"name not a DNS label", "apiVersion: meshconform.io/v1alpha1\nkind: Topology\nmetadata: {name: My_Topo}\nspec:\n" + twoPrimaries,
			[]string{`metadata.name: "My_Topo" is not a DNS label`}},

		// Decoding.
		{"unknown top-level field", doc(twoPrimaries) + "extra: 1\n",
			[]string{"extra: unknown field", "known fields here: apiVersion, kind, metadata, spec"}},
		{"unknown cluster field with suggestion", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnets: 10.10.0.0/16}\n"),
			[]string{`spec.clusters[0].podSubnets: unknown field: did you mean "podSubnet"?`}},
		{"field names are case-sensitive", doc("  Networking: bridged\n" + twoPrimaries),
			[]string{`spec.Networking: unknown field: did you mean "networking"?`}},
		{"unknown mesh field", doc("  mesh: {id: mesh1, trustdomain: example.org}\n" + twoPrimaries),
			[]string{`spec.mesh.trustdomain: unknown field: did you mean "trustDomain"?`}},
		{"unknown field reported with the other problems", doc("  clusters:\n  - {name: cluster1, role: primery, wrkers: 2}\n"),
			[]string{"spec.clusters[0].wrkers: unknown field", `spec.clusters[0].role: unknown role "primery"`}},
		{"duplicate YAML key", doc("  networking: bridged\n  networking: isolated\n" + twoPrimaries),
			[]string{"invalid YAML", `"networking" already set`}},
		{"wrong type", doc("  clusters:\n  - {name: cluster1, role: primary, workers: \"2\"}\n"),
			[]string{"spec.clusters.workers: got a string, want an integer"}},
		{"not a mapping", "- a\n- b\n", []string{"top level: got a list, want a mapping"}},
		{"invalid YAML", "spec: [\n", []string{"invalid YAML"}},
		{"empty file", "  \n", []string{"empty topology"}},
		{"only comments", "# nothing here\n", []string{"empty topology"}},
		{"two documents", doc(twoPrimaries) + "---\n" + doc(twoPrimaries), []string{"found 2 YAML documents"}},

		// Mesh and networking.
		{"mesh id not a DNS label", doc("  mesh: {id: Mesh_1}\n" + twoPrimaries),
			[]string{`spec.mesh.id: "Mesh_1" is not a DNS label`}},
		{"trust domain as URI", doc("  mesh: {trustDomain: \"spiffe://cluster.local\"}\n" + twoPrimaries),
			[]string{"spec.mesh.trustDomain:", "is a URI, not a trust domain"}},
		{"revision with a dot", doc("  mesh: {revision: \"1.31\"}\n" + twoPrimaries),
			[]string{`spec.mesh.revision: "1.31" is not a DNS label`, "e.g. canary, 1-31-0"}},
		{"revision too long", doc("  mesh: {revision: " + strings.Repeat("r", 41) + "}\n" + twoPrimaries),
			[]string{"spec.mesh.revision:", "more than 40"}},
		{"trust domain not a DNS name", doc("  mesh: {trustDomain: Cluster_Local}\n" + twoPrimaries),
			[]string{`spec.mesh.trustDomain: "Cluster_Local" is not a DNS name`}},
		{"unknown networking", doc("  networking: bridge\n" + twoPrimaries),
			[]string{`spec.networking: unknown mode "bridge": use bridged or isolated`}},

		// Clusters.
		{"no clusters", doc("  mesh: {id: mesh1}\n"), []string{"spec.clusters: no clusters"}},
		{"cluster without name", doc("  clusters:\n  - {role: primary}\n"), []string{"spec.clusters[0].name: missing"}},
		{"cluster name not a DNS label", doc("  clusters:\n  - {name: Cluster_1, role: primary}\n"),
			[]string{`spec.clusters[0].name: "Cluster_1" is not a DNS label`}},
		{"cluster name too long for kind", doc("  clusters:\n  - {name: " + long34 + ", role: primary}\n"),
			[]string{"spec.clusters[0].name:", "is 34 characters long, more than 33"}},
		{"duplicate cluster names", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster1, role: primary}\n"),
			[]string{`spec.clusters[1].name: duplicate name "cluster1" (also spec.clusters[0].name): give every cluster a unique name`}},
		{"unknown role", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: primery}\n"),
			[]string{`spec.clusters[1].role: unknown role "primery": use primary or remote`}},
		{"missing role", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2}\n"),
			[]string{"spec.clusters[1].role: missing: use primary or remote"}},
		{"network not a DNS label", doc("  clusters:\n  - {name: cluster1, role: primary, network: Net_1}\n"),
			[]string{`spec.clusters[0].network: "Net_1" is not a DNS label`}},
		{"negative workers", doc("  clusters:\n  - {name: cluster1, role: primary, workers: -1}\n"),
			[]string{"spec.clusters[0].workers: -1 is out of range: use 0 to 5"}},
		{"too many workers", doc("  clusters:\n  - {name: cluster1, role: primary, workers: 6}\n"),
			[]string{"spec.clusters[0].workers: 6 is out of range"}},

		// Primaries and remotes.
		{"only remotes", doc("  clusters:\n  - {name: cluster1, role: remote}\n  - {name: cluster2, role: remote}\n"),
			[]string{"spec.clusters: no cluster has role primary: make at least one cluster a primary"}},
		{"remote names a missing primary", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: remote, primary: cluster9}\n"),
			[]string{`spec.clusters[1].primary: no cluster named "cluster9": name one of the primaries: cluster1`}},
		{"remote names a remote", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: remote}\n  - {name: cluster3, role: remote, primary: cluster2}\n"),
			[]string{`spec.clusters[2].primary: "cluster2" has role "remote", not primary`, "name one of the primaries: cluster1"}},
		{"remote names itself", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: remote, primary: cluster2}\n"),
			[]string{`spec.clusters[1].primary: "cluster2" names the remote itself`}},
		{"primary names a primary", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: primary, primary: cluster1}\n"),
			[]string{`spec.clusters[1].primary: set to "cluster1" on a primary: remove it`}},

		// Subnets.
		{"pod subnets overlap", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: 10.10.0.0/16}\n  - {name: cluster2, role: primary, podSubnet: 10.10.128.0/17}\n"),
			[]string{"spec.clusters[1].podSubnet: 10.10.128.0/17 overlaps spec.clusters[0].podSubnet 10.10.0.0/16"}},
		{"pod and service subnet of one cluster overlap", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: 10.96.0.0/12, serviceSubnet: 10.96.0.0/16}\n"),
			[]string{"spec.clusters[0].serviceSubnet: 10.96.0.0/16 overlaps spec.clusters[0].podSubnet 10.96.0.0/12"}},
		{"service subnet overlaps another cluster's pods", doc("  clusters:\n  - {name: cluster1, role: primary}\n  - {name: cluster2, role: primary, serviceSubnet: 10.10.5.0/24}\n"),
			[]string{"spec.clusters[1].serviceSubnet: 10.10.5.0/24 overlaps spec.clusters[0].podSubnet 10.10.0.0/16"}},
		{"explicit subnet collides with a derived one", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: 10.20.0.0/16}\n  - {name: cluster2, role: primary}\n"),
			[]string{"spec.clusters[1].podSubnet: 10.20.0.0/16 overlaps spec.clusters[0].podSubnet 10.20.0.0/16"}},
		{"invalid CIDR", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: 10.10.0.0/33}\n"),
			[]string{`spec.clusters[0].podSubnet: invalid CIDR "10.10.0.0/33": use an address/prefix-length such as 10.10.0.0/16`}},
		{"not a CIDR", doc("  clusters:\n  - {name: cluster1, role: primary, serviceSubnet: 10.255.10.0}\n"),
			[]string{`spec.clusters[0].serviceSubnet: invalid CIDR "10.255.10.0": use an address/prefix-length such as 10.255.10.0/24`}},
		{"host bits set", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: 10.10.1.0/16}\n"),
			[]string{"spec.clusters[0].podSubnet: 10.10.1.0/16 has host bits set: use 10.10.0.0/16"}},
		{"pod subnet too small for the nodes", doc("  clusters:\n  - {name: cluster1, role: primary, workers: 2, podSubnet: 10.10.0.0/23}\n"),
			[]string{"spec.clusters[0].podSubnet: 10.10.0.0/23 is too small for 3 node(s), each taking a /24: use a /22 or larger"}},
		{"service subnet too small", doc("  clusters:\n  - {name: cluster1, role: primary, serviceSubnet: 10.255.10.0/29}\n"),
			[]string{"spec.clusters[0].serviceSubnet: 10.255.10.0/29 is too small", "use a /28 or larger"}},
		{"mixed IP families", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: \"fd00:10::/56\"}\n"),
			[]string{"spec.clusters[0].serviceSubnet: 10.255.10.0/24 and podSubnet fd00:10::/56 are of different IP families"}},

		// Bring-your-own.
		{"kubeconfig without context", doc("  clusters:\n  - {name: cluster1, role: primary, kubeconfig: /k}\n"),
			[]string{"spec.clusters[0].context: missing while kubeconfig is set: set both kubeconfig and context"}},
		{"context without kubeconfig", doc("  clusters:\n  - {name: cluster1, role: primary, context: kind-cluster1}\n"),
			[]string{"spec.clusters[0].kubeconfig: missing while context is set"}},
		{"bring-your-own mixed with kind", doc("  clusters:\n  - {name: cluster1, role: primary, kubeconfig: /k, context: c1}\n  - {name: cluster2, role: primary}\n"),
			[]string{"spec.clusters: cluster1 uses an existing cluster (kubeconfig/context) but cluster2 would be created with kind", "unsupported", "give every cluster a kubeconfig and context, or none"}},
		{"workers on a bring-your-own cluster", doc("  clusters:\n  - {name: cluster1, role: primary, kubeconfig: /k, context: c1, workers: 2, podSubnet: 10.10.0.0/16}\n"),
			[]string{"spec.clusters[0].workers: set on a bring-your-own cluster", "spec.clusters[0].podSubnet: set on a bring-your-own cluster"}},
		{"two clusters on one context", doc("  clusters:\n  - {name: cluster1, role: primary, kubeconfig: /k, context: c1}\n  - {name: cluster2, role: primary, kubeconfig: /k, context: c1}\n"),
			[]string{`spec.clusters[1].context: kubeconfig "/k" context "c1" is also used by spec.clusters[0]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q; got %+v", tc.want, top)
			}
			if top != nil {
				t.Errorf("Parse returned a topology along with the error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseAcceptsEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, top *Topology)
	}{
		{"remote on its own network with its primary elsewhere", doc("  clusters:\n  - {name: cluster1, role: primary, network: network1}\n  - {name: cluster2, role: remote, network: network2}\n"),
			func(t *testing.T, top *Topology) {
				if p, ok := top.PrimaryOf("cluster2"); !ok || p.Name != "cluster1" {
					t.Errorf("PrimaryOf(cluster2) = %q, %v; want cluster1", p.Name, ok)
				}
			}},
		{"isolated with a single network", doc("  networking: isolated\n" + twoPrimaries),
			func(t *testing.T, top *Topology) {
				if top.Spec.Networking != NetworkingIsolated {
					t.Errorf("networking = %q, want isolated", top.Spec.Networking)
				}
			}},
		{"bridged with two networks", doc("  networking: bridged\n  clusters:\n  - {name: cluster1, role: primary, network: network1}\n  - {name: cluster2, role: primary, network: network2}\n"),
			func(t *testing.T, top *Topology) {
				if top.Spec.Networking != NetworkingBridged || !top.MultiNetwork() {
					t.Errorf("networking = %q, multi-network %v; want bridged, true", top.Spec.Networking, top.MultiNetwork())
				}
			}},
		{"33-character cluster name", doc("  clusters:\n  - {name: " + strings.Repeat("c", 33) + ", role: primary}\n"), nil},
		{"five workers", doc("  clusters:\n  - {name: cluster1, role: primary, workers: 5, podSubnet: 10.10.0.0/21}\n"),
			func(t *testing.T, top *Topology) {
				if top.Spec.Clusters[0].Workers != 5 {
					t.Errorf("workers = %d", top.Spec.Clusters[0].Workers)
				}
			}},
		{"IPv6 subnets", doc("  clusters:\n  - {name: cluster1, role: primary, podSubnet: \"fd00:10::/56\", serviceSubnet: \"fd00:255:10::/112\"}\n"), nil},
		{"bring-your-own clusters", doc("  clusters:\n  - {name: east, role: primary, kubeconfig: /home/me/.kube/config, context: east}\n  - {name: west, role: remote, kubeconfig: /home/me/.kube/config, context: west}\n"),
			func(t *testing.T, top *Topology) {
				if !top.BringYourOwn() {
					t.Errorf("BringYourOwn() = false")
				}
				for _, c := range top.Spec.Clusters {
					if c.PodSubnet != "" || c.ServiceSubnet != "" {
						t.Errorf("%s: subnets derived for a bring-your-own cluster: %q %q", c.Name, c.PodSubnet, c.ServiceSubnet)
					}
				}
				if got := top.Features(); fmt.Sprint(got) != "[PrimaryRemote]" {
					t.Errorf("Features() = %v, want [PrimaryRemote] (no networking feature for bring-your-own)", got)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.check != nil {
				tc.check(t, top)
			}
		})
	}
}

func TestValidationErrorListsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`apiVersion: meshconform.io/v1
kind: Topology
metadata: {name: t}
spec:
  networking: flat
  clusters:
  - {name: cluster1, role: primary, workers: 9}
  - {name: cluster1, role: primery}
`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T (%v), want *ValidationError", err, err)
	}
	got := map[string]bool{}
	for _, p := range ve.Problems {
		got[p.Field] = true
	}
	want := []string{"apiVersion", "spec.networking", "spec.clusters[0].workers", "spec.clusters[1].name", "spec.clusters[1].role"}
	for _, f := range want {
		if !got[f] {
			t.Errorf("no problem reported for %s; problems: %v", f, ve)
		}
	}
	if len(ve.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ve.Problems), len(want), ve)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("%d problems:\n  - ", len(want))) {
		t.Errorf("error is not a list of problems:\n%v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "apiVersion" {
		t.Errorf("errors.As(*FieldError) = %+v, want the apiVersion problem first", fe)
	}
}

func TestValidateWithoutDefaults(t *testing.T) {
	// Validate on its own does not default: empty fields that Default would
	// fill are problems.
	top := &Topology{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "t"},
		Spec: Spec{Clusters: []Cluster{{Name: "cluster1", Role: RolePrimary}}}}
	err := top.Validate()
	if err == nil {
		t.Fatal("Validate succeeded on an undefaulted topology")
	}
	for _, w := range []string{"spec.mesh.id: empty", "spec.mesh.trustDomain: empty", "spec.networking: empty", "spec.clusters[0].network: empty", "spec.clusters[0].podSubnet: empty"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	top.Default()
	if err := top.Validate(); err != nil {
		t.Errorf("Validate after Default: %v", err)
	}
}

func TestTooManyClustersToDerive(t *testing.T) {
	clusters := func(last string) string {
		var b strings.Builder
		b.WriteString("  clusters:\n")
		for i := range MaxDerivedClusters {
			fmt.Fprintf(&b, "  - {name: c%d, role: primary, network: n%d}\n", i, i) // one per docker network (isolated)
		}
		b.WriteString(last)
		return b.String()
	}
	_, err := Parse([]byte(doc(clusters("  - {name: c25, role: primary, network: n25}\n"))))
	if err == nil {
		t.Fatalf("Parse accepted %d clusters without subnets", MaxDerivedClusters+1)
	}
	for _, w := range []string{"spec.clusters[25].podSubnet: empty and cannot be derived", "spec.clusters[25].serviceSubnet: empty and cannot be derived"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Errorf("want exactly the two subnet problems (the 25 derived ranges must not overlap), got:\n%v", err)
	}
	// Giving the 26th cluster its own subnets makes the topology valid.
	top, err := Parse([]byte(doc(clusters("  - {name: c25, role: primary, network: n25, podSubnet: 192.168.0.0/16, serviceSubnet: 172.31.0.0/24}\n"))))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := len(top.Spec.Clusters); got != MaxDerivedClusters+1 {
		t.Fatalf("%d clusters, want %d", got, MaxDerivedClusters+1)
	}
}
