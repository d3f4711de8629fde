package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshconform/meshconform/envs"
	"github.com/meshconform/meshconform/framework/env"
	"sigs.k8s.io/yaml"
)

// addSeeds seeds a topology fuzzer with every built-in topology file and a few documents near the edges.
func addSeeds(f *testing.F) {
	f.Helper()
	files, err := fs.Glob(envs.FS, "*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no built-in topologies: %v", err)
	}
	for _, file := range files {
		data, err := fs.ReadFile(envs.FS, file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		doc(twoPrimaries),
		doc("  clusters:\n  - {name: c1, role: primary, kubeconfig: k, context: a}\n  - {name: c2, role: remote, kubeconfig: ./k, context: a}\n"),
		doc("  networking: bridged\n  clusters:\n  - {name: c1, role: primary, network: a, podSubnet: \"fd00:10::/56\", serviceSubnet: \"fd00:255:10::/112\"}\n  - {name: c2, role: remote, network: b, workers: 5}\n"),
		doc("  clusters:\n  - {name: c1, role: primary, podSubnet: 10.10.0.1/16}\n  - {name: c2, role: primary, podSubnet: 10.10.0.0/17, serviceSubnet: 10.10.0.0/24}\n"),
		"---\n" + doc(twoPrimaries) + "---\n" + doc(twoPrimaries),
		"a: &a [*a, *a]\n",
		"",
	} {
		f.Add([]byte(s))
	}
}

// checkAccepted asserts what every topology Parse or Load accepts satisfies: it validates clean, defaulting it
// again changes nothing, it round-trips through its YAML, every query helper runs and agrees with the clusters, and
// the environment it starts passes the environment file's own validation.
func checkAccepted(t *testing.T, top *Topology) {
	t.Helper()
	if err := top.Validate(); err != nil {
		t.Fatalf("accepted topology does not validate: %v", err)
	}
	out, err := yaml.Marshal(top)
	if err != nil {
		t.Fatalf("marshal accepted topology: %v", err)
	}
	again := *top
	again.Spec.Clusters = append([]Cluster(nil), top.Spec.Clusters...)
	again.Default()
	if out2, _ := yaml.Marshal(&again); !bytes.Equal(out, out2) {
		t.Fatalf("Default is not idempotent:\n%s\nvs\n%s", out, out2)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("accepted topology's own YAML is refused: %v\n%s", err, out)
	}
	if out2, _ := yaml.Marshal(back); !bytes.Equal(out, out2) {
		t.Fatalf("YAML round trip changed the topology:\n%s\nvs\n%s", out, out2)
	}

	if len(top.Spec.Clusters) == 0 || len(top.Primaries()) == 0 {
		t.Fatal("accepted a topology without clusters or primaries")
	}
	if len(top.Primaries())+len(top.Remotes()) != len(top.Spec.Clusters) {
		t.Fatal("a cluster is neither primary nor remote")
	}
	n := 0
	for _, mn := range top.Networks() {
		n += len(top.ClustersOn(mn))
	}
	if n != len(top.Spec.Clusters) {
		t.Fatalf("Networks/ClustersOn cover %d of %d clusters", n, len(top.Spec.Clusters))
	}
	for _, c := range top.Spec.Clusters {
		got, ok := top.Cluster(c.Name)
		if !ok || got != c {
			t.Fatalf("Cluster(%q) = %v, %v", c.Name, got, ok)
		}
		p, ok := top.PrimaryOf(c.Name)
		if !ok || !p.IsPrimary() {
			t.Fatalf("PrimaryOf(%q) = %v, %v: every cluster of a valid topology has a primary", c.Name, p, ok)
		}
		top.RemotesOf(c.Name)
	}
	top.Features()
	top.MultiNetwork()
	top.HasRemotes()
	for _, f := range AllFeatures() {
		top.HasFeature(f)
	}

	st := top.NewState("", "test")
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatalf("marshal state: %v", err)
	}
	if _, err := env.Parse(b); err != nil {
		t.Fatalf("the environment of an accepted topology is refused: %v\n%s", err, out)
	}
}

// FuzzParse: Parse never panics; what it accepts passes checkAccepted; what it refuses comes with an error, which
// is a *ValidationError listing at least one problem whenever decoding got as far as the fields.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse(data)
		if err != nil {
			if top != nil {
				t.Fatal("Parse returned a topology with an error")
			}
			var ve *ValidationError
			if errors.As(err, &ve) && len(ve.Problems) == 0 {
				t.Fatal("ValidationError without problems")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		checkAccepted(t, top)
	})
}

// FuzzLoad: Load of a file holding the data never panics; its errors name the file; what it accepts Parse accepts
// too, passes checkAccepted, and has every kubeconfig path absolute.
func FuzzLoad(f *testing.F) {
	addSeeds(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "topology.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		top, err := Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Load's error does not name the file: %v", err)
			}
			return
		}
		if _, err := Parse(data); err != nil {
			t.Fatalf("Load accepted what Parse refuses: %v", err)
		}
		for i, c := range top.Spec.Clusters {
			if c.Kubeconfig != "" && !filepath.IsAbs(c.Kubeconfig) {
				t.Fatalf("spec.clusters[%d].kubeconfig %q is not absolute after Load", i, c.Kubeconfig)
			}
		}
		checkAccepted(t, top)
	})
}
