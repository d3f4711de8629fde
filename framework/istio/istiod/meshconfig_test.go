package istiod

import (
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestClusterLocalPatterns(t *testing.T) {
	doc := `
defaultConfig:
  meshId: mesh1
serviceSettings:
- settings:
    clusterLocal: true
  hosts: ["*.kube-system.svc.cluster.local", "echo.meshconform.svc.cluster.local"]
- settings:
    clusterLocal: false
  hosts: ["*"]
`
	got, err := ClusterLocalPatterns(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"*.kube-system.svc.cluster.local", "echo.meshconform.svc.cluster.local"}) {
		t.Errorf("patterns %v", got)
	}
	if _, err := ClusterLocalPatterns("serviceSettings: {"); err == nil {
		t.Error("malformed mesh config accepted")
	}
}

func TestHostMatches(t *testing.T) {
	host := "echo.meshconform.svc.cluster.local"
	for pattern, want := range map[string]bool{
		host: true, "*": true, "*.meshconform.svc.cluster.local": true, "*.svc.cluster.local": true,
		"*.other.svc.cluster.local": false, "echo.other.svc.cluster.local": false, "meshconform.svc.cluster.local": false,
		"*echo.meshconform.svc.cluster.local": false,
	} {
		if got := HostMatches(pattern, host); got != want {
			t.Errorf("HostMatches(%q) = %v, want %v", pattern, got, want)
		}
	}
}

// The edit keeps the user's settings and adds ours after them.
func TestSetClusterLocalKeepsExistingSettings(t *testing.T) {
	doc := map[string]any{}
	if err := yaml.Unmarshal([]byte("trustDomain: cluster.local\nserviceSettings:\n- settings: {clusterLocal: true}\n  hosts: [a.b.svc.cluster.local]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := SetClusterLocal("echo.meshconform.svc.cluster.local")(doc); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ClusterLocalPatterns(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a.b.svc.cluster.local", "echo.meshconform.svc.cluster.local"}) || doc["trustDomain"] != "cluster.local" {
		t.Errorf("after the edit: %s", b)
	}
}
