package istiod

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/meshconform/meshconform/framework/istio/render"
	"github.com/meshconform/meshconform/framework/kube"
)

// RunningVersion asks a running istiod of revision rev for its version (:15014/version, as `istioctl version`
// does); "" when it cannot (no pod, no port forward: a client without a REST config).
func RunningVersion(ctx context.Context, c *kube.Client, rev string) string {
	if c.Config == nil {
		return ""
	}
	pods, err := RunningPods(ctx, c, rev)
	if err != nil || len(pods) == 0 {
		return ""
	}
	b, err := c.PortForwardGet(ctx, render.Namespace, pods[0].Name, render.PortMonitoring, "version")
	if err != nil {
		return ""
	}
	return ParseVersion(string(b))
}

// ParseVersion reads istiod's /version answer, "<version>-<git revision>-<build status>"
// (e.g. 1.31-alpha.eed52ebb66ad-eed52ebb66ad-Clean), or a JSON document with clientVersion.version.
func ParseVersion(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		var v struct {
			ClientVersion struct {
				Version string `json:"version"`
			} `json:"clientVersion"`
		}
		if json.Unmarshal([]byte(s), &v) != nil {
			return ""
		}
		return v.ClientVersion.Version
	}
	parts := strings.Split(s, "-")
	if len(parts) < 3 {
		return s
	}
	return strings.Join(parts[:len(parts)-2], "-")
}
