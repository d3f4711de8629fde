package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs Load(path) and fails the test if it does not return within a few seconds (a FIFO without a
// writer blocks a plain open forever; /dev/zero never ends).
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Load(%s) did not return within 5s", path)
		return nil
	}
}

func TestLoadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "topology.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	// A valid document padded with a comment to one byte over the limit.
	body := doc(twoPrimaries)
	pad := MaxFileSize + 1 - len(body) - 2
	if err := os.WriteFile(big, []byte(body+"#"+strings.Repeat("x", pad)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(big); fi.Size() != MaxFileSize+1 {
		t.Fatalf("big file is %d bytes, want %d", fi.Size(), MaxFileSize+1)
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"FIFO", fifo, []string{fifo, "is a named pipe (FIFO), not a regular file", "write the topology to a regular YAML file"}},
		{"directory", dir, []string{dir, "is a directory, not a topology file", "pass the path of the YAML file in it"}},
		{"/dev/zero", "/dev/zero", []string{"/dev/zero", "is a character device, not a regular file", "write the topology to a regular YAML file"}},
		{"1 MiB + 1", big, []string{big, fmt.Sprintf("%d bytes, more than the %d-byte (1 MiB) limit", MaxFileSize+1, MaxFileSize), "check that this is the topology file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skipf("%s: %v", c.path, err)
			}
			err := loadWithin(t, c.path)
			if err == nil {
				t.Fatalf("Load(%s) accepted it", c.path)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			t.Logf("%s → %v", c.name, err)
		})
	}
}

func TestLoadAcceptsAFileOfExactlyTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	body := doc(twoPrimaries)
	if err := os.WriteFile(path, []byte(body+"#"+strings.Repeat("x", MaxFileSize-len(body)-2)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("Load of a %d-byte file: %v", MaxFileSize, err)
	}
	// A symlink to a regular file is fine.
	link := filepath.Join(t.TempDir(), "link.yaml")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link); err != nil {
		t.Fatalf("Load through a symlink: %v", err)
	}
}

// clustersDoc is a topology with n primaries, the i-th on the mesh network network(i), and networking (empty: defaulted).
func clustersDoc(n int, networking string, network func(i int) string) string {
	var b strings.Builder
	if networking != "" {
		fmt.Fprintf(&b, "  networking: %s\n", networking)
	}
	b.WriteString("  clusters:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: c%d, role: primary, network: %s}\n", i, network(i))
	}
	return doc(b.String())
}

func TestValidateCapsClustersPerDockerNetwork(t *testing.T) {
	one := func(int) string { return "network1" }
	cases := []struct {
		name string
		yaml string
		want []string // nil: valid
	}{
		{"7 bridged", clustersDoc(MaxClustersPerDockerNetwork, "bridged", one), nil},
		{"7 isolated on one mesh network", clustersDoc(MaxClustersPerDockerNetwork, "isolated", one), nil},
		{"14 isolated on two mesh networks", clustersDoc(14, "", func(i int) string { return fmt.Sprintf("n%d", i%2) }), nil},
		{"8 bridged (defaulted: one mesh network)", clustersDoc(8, "", one),
			[]string{"spec.clusters: 8 clusters, but spec.networking: bridged puts every cluster on one docker network, which holds at most 7",
				"use at most 7 clusters, or set spec.networking: isolated and spread the clusters over several mesh networks"}},
		{"8 bridged over 8 mesh networks", clustersDoc(8, "bridged", func(i int) string { return fmt.Sprintf("n%d", i) }),
			[]string{"spec.clusters: 8 clusters, but spec.networking: bridged puts every cluster on one docker network"}},
		{"8 isolated on one mesh network", clustersDoc(8, "isolated", one),
			[]string{`spec.clusters: 8 clusters on mesh network "network1", but spec.networking: isolated gives each mesh network one docker network, which holds at most 7`,
				"move clusters to other mesh networks (spec.clusters[].network), at most 7 on each, or use fewer clusters"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if c.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			t.Logf("%s → %v", c.name, err)
		})
	}
}

// The cap is listed with every other problem, and counts only clusters meshconform creates.
func TestClustersPerDockerNetworkIsListedWithOtherProblems(t *testing.T) {
	y := strings.Replace(clustersDoc(9, "isolated", func(int) string { return "network1" }), "metadata: {name: t}", "metadata: {name: T}", 1)
	_, err := Parse([]byte(y))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want the name and the cap, got:\n%v", err)
	}
	if !strings.Contains(err.Error(), "metadata.name") || !strings.Contains(err.Error(), `9 clusters on mesh network "network1"`) {
		t.Errorf("got:\n%v", err)
	}

	var b strings.Builder
	b.WriteString("  clusters:\n")
	for i := range 9 {
		fmt.Fprintf(&b, "  - {name: c%d, role: primary, kubeconfig: /k, context: c%d}\n", i, i)
	}
	if _, err := Parse([]byte(doc(b.String()))); err != nil {
		t.Errorf("9 bring-your-own clusters (no docker network): %v", err)
	}
}

// Validation is linear in the number of clusters: 20000 clusters with their own subnets (most overlapping) and
// remotes defaulting their primary take well under a second, where comparing every pair took minutes.
func TestValidationIsLinearInClusters(t *testing.T) {
	const n = 20000
	var b strings.Builder
	b.WriteString("  clusters:\n")
	for i := range n {
		role := "remote"
		if i%7 == 0 {
			role = "primary"
		}
		fmt.Fprintf(&b, "  - {name: c%d, role: %s, network: n%d, podSubnet: 10.%d.0.0/16, serviceSubnet: 172.16.%d.0/24}\n",
			i, role, i/7, i%256, i%256)
	}
	data := []byte(doc(b.String()))
	start := time.Now()
	_, err := Parse(data)
	took := time.Since(start)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want overlap problems, got %v", err)
	}
	// Each subnet after the first 256 clusters overlaps one earlier subnet: reported once each, against the first.
	if got, want := len(ve.Problems), 2*(n-256); got != want {
		t.Errorf("%d problems, want %d", got, want)
	}
	if !strings.Contains(err.Error(), "spec.clusters[256].podSubnet: 10.0.0.0/16 overlaps spec.clusters[0].podSubnet 10.0.0.0/16") {
		t.Errorf("first overlap not reported against the first subnet:\n%.600s", err)
	}
	if took > 5*time.Second {
		t.Errorf("Parse of %d clusters took %s", n, took)
	}
	t.Logf("Parse of %d clusters (%d bytes): %s", n, len(data), took)
}
