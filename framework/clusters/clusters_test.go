package clusters

import (
	"slices"
	"testing"
)

func TestParseAttachments(t *testing.T) {
	listing := "mc-a-cluster1\tmc-a-bridge\nmc-a-cluster1\tmc-a-bridge\nmc-b-c2\tmc-b-network2,kind\n\nnonet\t\nbroken line\n"
	att := parseAttachments(listing)
	if !slices.Equal(att["mc-a-cluster1"], []string{"mc-a-bridge"}) || !slices.Equal(att["mc-b-c2"], []string{"mc-b-network2", "kind"}) {
		t.Errorf("attachments %v", att)
	}
	if n, ok := att["nonet"]; !ok || len(n) != 0 {
		t.Errorf("a cluster on no network: %v, %t", n, ok)
	}
	if len(att) != 3 {
		t.Errorf("%d clusters, want 3: %v", len(att), att)
	}
}
