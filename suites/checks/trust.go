package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshconform/meshconform/framework/trust"
	"github.com/meshconform/meshconform/framework/workload"
)

// Roots reads the root certificate each cluster's client workload actually holds (not the configured one: proxies
// can hold another) and verifies the workload's own certificate against it. It returns the root fingerprint per
// cluster; the error names a cluster whose chain does not verify.
func Roots(ctx context.Context, m *Mesh) (map[string]trust.Chain, error) {
	out := map[string]trust.Chain{}
	for _, name := range m.Names() {
		c := m.Clients[name]
		pod, err := workload.ClientPod(ctx, c, m.Namespace)
		if err != nil {
			return nil, err
		}
		chainPEM, rootPEM, err := workload.ReadCerts(ctx, c, m.Namespace, pod)
		if err != nil {
			return nil, fmt.Errorf("%s: read certificates of %s/%s: %w", name, m.Namespace, pod, err)
		}
		chain, err := trust.VerifyChain(chainPEM, rootPEM)
		if err != nil {
			return nil, fail("trust", causeChainBroken, []string{
				fmt.Sprintf("kubectl --context %s -n istio-system get secret cacerts", name)},
				"%s: the client's certificate does not verify against the root it holds: %v", name, err)
		}
		out[name] = *chain
	}
	return out, nil
}

// SharedRoot fails unless every cluster's workload holds the same root, and (when meshconform created the root)
// that root is the one in the environment file.
func SharedRoot(ctx context.Context, m *Mesh) error {
	chains, err := Roots(ctx, m)
	if err != nil {
		return err
	}
	byRoot := map[string][]string{}
	for name, ch := range chains {
		byRoot[ch.RootFingerprint] = append(byRoot[ch.RootFingerprint], name)
	}
	inspect := []string{"kubectl -n istio-system get secret cacerts istio-ca-secret (in every cluster)",
		"istioctl proxy-config secret <pod> (sidecar) or the root in " + workload.CertDir + " (proxyless)"}
	if len(byRoot) > 1 {
		var parts []string
		for fp, names := range byRoot {
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("%s hold %s", strings.Join(names, ","), short(fp)))
		}
		sort.Strings(parts)
		return fail("trust", causeRootsDiffer, inspect, "workloads hold %d different roots: %s", len(byRoot),
			strings.Join(parts, "; "))
	}
	if want := m.State.Mesh.RootFingerprint; want != "" {
		for fp, names := range byRoot {
			if fp != want {
				sort.Strings(names)
				return fail("trust", causeRootsDiffer, inspect, "workloads in %s hold root %s, not the mesh's root %s",
					strings.Join(names, ","), short(fp), short(want))
			}
		}
	}
	return nil
}

// MutualTLS calls the echo service from src until every cluster in dsts has answered, then checks that every call
// was mutually authenticated: each server saw the client's SPIFFE identity and, where the client terminates TLS
// itself (proxyless), it saw the server's. The caller sets up STRICT mTLS and, for proxyless, ISTIO_MUTUAL.
func MutualTLS(ctx context.Context, m *Mesh, src string, dsts []string, calls int, warmUp time.Duration) (workload.Tally, error) {
	t, err := workload.CallWith(ctx, m.Clients[src], m.Namespace, workload.CallSpec{Target: m.Target(), Count: calls,
		XDS: true, WarmUpUntil: dsts, WarmUpTimeout: warmUp})
	if err != nil {
		return t, err
	}
	inspect := []string{
		fmt.Sprintf("kubectl --context %s -n %s get peerauthentication,destinationrule", src, m.Namespace),
		fmt.Sprintf("kubectl --context %s -n %s logs deploy/%s", src, m.Namespace, workload.ClientName)}
	if t.Failed() > 0 {
		return t, fail("trust", causeMTLS, inspect, "%d of %d calls from %s failed under STRICT mTLS (first error: %s)",
			t.Failed(), t.Sent, src, t.FirstError)
	}
	if w := t.Warmup; w != nil && !w.Complete {
		return t, fail("trust", causeNoRemoteEndpoints, inspectIstiod(m.Istiod(src)),
			"in %d calls over %.0fs, calls from %s reached only %v, not all of %v", w.Calls, w.Seconds, src, w.Reached, dsts)
	}
	want := m.ClientIdentity()
	if t.Peers[want] != t.OK {
		return t, fail("trust", causeMTLS, inspect, "servers saw the client identity %s on %d of %d calls (peers seen: %v)",
			want, t.Peers[want], t.OK, t.Peers)
	}
	if m.DataPlane == workload.DataPlaneProxyless && t.ServerPeers[m.ServerIdentity()] != t.OK {
		return t, fail("trust", causeMTLS, inspect, "the client saw the server identity %s on %d of %d calls (seen: %v)",
			m.ServerIdentity(), t.ServerPeers[m.ServerIdentity()], t.OK, t.ServerPeers)
	}
	return t, nil
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "…"
	}
	return fp
}
