package checks

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
	"github.com/meshconform/meshconform/framework/report/apis/v1alpha1"
)

// The likely causes of configuration disagreements.
const (
	causeMeshID = "the clusters were installed with different meshID values (values.global.meshID, or " +
		"meshConfig.defaultConfig.meshId): a multicluster mesh needs one meshID in every cluster, or workloads of " +
		"one cluster are told they belong to another mesh"
	causeTrustDomain = "the clusters were installed with different trust domains (meshConfig.trustDomain) and neither " +
		"lists the other in trustDomainAliases: under STRICT mTLS a workload of one rejects the identities of the " +
		"other (spiffe://<trust domain>/...), which reads as an mTLS failure between the clusters"
	causeRoots = "the clusters distribute different roots (istio-ca-root-cert): their cacerts hold different roots, or " +
		"an istiod self-signed because cacerts was missing when it started"
	causeClusterIDs = "two clusters share one cluster ID (values.global.multiCluster.clusterName): istiod merges their " +
		"endpoints and remote secrets overwrite each other"
	causeSkew = "the primaries' istiods are more than one minor version apart, beyond Istio's supported skew"
	// Istio's supported releases, "Control Plane/Data Plane Skew": the control plane can be one version ahead of the
	// data plane, and the data plane cannot be ahead of the control plane.
	causeDataPlaneSkew = "the proxies a cluster's injector injects and the istiod that serves them are outside Istio's " +
		"supported control plane/data plane skew (istio.io/latest/docs/releases/supported-releases: the control plane " +
		"can be one minor version ahead of the data plane, the data plane never ahead of it): a remote's injector is " +
		"another revision or a local istiod of another version than its primary's, or the injector's " +
		"values.global.proxy.image/tag pins another proxy"
)

// ConfigConsistent reads every cluster's own settings and fails where the multicluster guide requires agreement:
// one mesh ID, trust domains that agree or alias each other, one root, distinct cluster IDs, and primaries' istiods
// within one minor version. The table of what each cluster says is returned with the verdict (and in it).
func ConfigConsistent(ctx context.Context, m *Mesh) (string, error) {
	got := map[string]istiod.Settings{}
	for _, c := range m.State.Clusters {
		s, err := istiod.ReadSettings(ctx, m.Clients[c.Name], c.Role == env.RolePrimary, m.Revision(c.Name))
		if err != nil {
			return "", err
		}
		got[c.Name] = s
	}
	got = Effective(m.State, got)
	table := SettingsTable(m.State, got)
	if f := CompareSettings(m.State, got); f != nil {
		f.Observed += "\n" + table
		return table, f
	}
	return table, nil
}

// Effective fills in what a remote takes from its primary: a remote installed with an external control plane has no
// mesh config of its own (istioctl's remote profile writes none; its primary's istiod serves it with the primary's),
// so its mesh ID and trust domain are its primary's; and a remote whose injection webhook calls its primary's istiod
// (the remote profile's Service for remotePilotAddress, or a URL at the primary's exposed istiod) is injected with
// what the primary's injector injects. Anything else a cluster leaves out stays missing.
func Effective(st *env.State, got map[string]istiod.Settings) map[string]istiod.Settings {
	out := map[string]istiod.Settings{}
	for n, s := range got {
		out[n] = s
	}
	for _, c := range st.Remotes() {
		s := out[c.Name]
		p, ok := got[c.Primary]
		if !ok {
			continue
		}
		if s.InjectorURL != "" && urlAtPrimary(st, c.Primary, s.InjectorURL) {
			s.InjectorFromPrimary = true
		}
		if s.InjectorFromPrimary {
			s.InjectorVersion = cmp.Or(p.ProxyVersion, p.Version)
			s.Injector = c.Primary + "'s istiod (" + s.Injector + ")"
		} else if s.InjectorURL != "" && s.InjectorVersion == "" {
			s.Missing = append(slices.Clone(s.Missing), "injector version (its webhook calls "+s.InjectorURL+", not "+c.Primary+"'s istiod)")
		}
		out[c.Name] = s
		if s.MeshID != "" || s.TrustDomain != "" {
			continue
		}
		s.MeshID, s.TrustDomain, s.TrustDomainAliases = p.MeshID, p.TrustDomain, p.TrustDomainAliases
		s.MeshConfigFrom = c.Primary
		s.Missing = slices.DeleteFunc(slices.Clone(s.Missing), func(m string) bool { return strings.HasPrefix(m, "mesh config") })
		out[c.Name] = s
	}
	return out
}

// urlAtPrimary says whether an injection URL leads to the primary's istiod: its host is the address the primary's
// istiod is exposed at, or its east-west gateway.
func urlAtPrimary(st *env.State, primary, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || st.Mesh == nil {
		return false
	}
	pm := st.Mesh.Clusters[primary]
	h := u.Hostname()
	return h != "" && (h == pm.IstiodAddress || h == pm.EastWestGateway)
}

// SettingsTable shows what each cluster says, one row per cluster.
func SettingsTable(st *env.State, got map[string]istiod.Settings) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTER\tROLE\tMESH ID\tTRUST DOMAIN (ALIASES)\tNETWORK\tCLUSTER ID\tROOT\tISTIOD\tINJECTS\tMISSING")
	for _, c := range st.Clusters {
		s := got[c.Name]
		td := s.TrustDomain
		if len(s.TrustDomainAliases) > 0 {
			td += " (" + strings.Join(s.TrustDomainAliases, ", ") + ")"
		}
		meshID := dash(s.MeshID)
		if s.MeshConfigFrom != "" {
			meshID += " (" + s.MeshConfigFrom + "'s)"
			td += " (" + s.MeshConfigFrom + "'s)"
		}
		ver := s.Version
		if s.Revision != "" {
			ver += " rev " + s.Revision
		}
		injects := dataPlaneVersion(s)
		if s.Injector != "" {
			injects += " by " + s.Injector
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Role, meshID, dash(td), dash(s.Network),
			dash(s.ClusterID), dash(shortFP(s.RootFingerprint)), dash(ver), dash(injects), dash(strings.Join(s.Missing, "; ")))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// CompareSettings is ConfigConsistent's verdict on what the clusters said.
func CompareSettings(st *env.State, got map[string]istiod.Settings) *Failure {
	var problems, causes []string
	add := func(cause, format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		if !slices.Contains(causes, cause) {
			causes = append(causes, cause)
		}
	}
	names := st.Names()
	if vals := distinct(names, func(n string) string { return got[n].MeshID }); len(vals) > 1 {
		add(causeMeshID, "mesh IDs differ: %s", vals)
	}
	for i, a := range names {
		for _, b := range names[i+1:] {
			sa, sb := got[a], got[b]
			if sa.TrustDomain == "" || sb.TrustDomain == "" || sa.TrustDomain == sb.TrustDomain {
				continue
			}
			if !slices.Contains(sa.TrustDomainAliases, sb.TrustDomain) || !slices.Contains(sb.TrustDomainAliases, sa.TrustDomain) {
				add(causeTrustDomain, "trust domains differ without aliases for each other: %s has %q, %s has %q", a, sa.TrustDomain, b, sb.TrustDomain)
			}
		}
	}
	if vals := distinct(names, func(n string) string { return shortFP(got[n].RootFingerprint) }); len(vals) > 1 {
		add(causeRoots, "roots differ: %s", vals)
	}
	ids := map[string][]string{}
	for _, n := range names {
		if id := got[n].ClusterID; id != "" {
			ids[id] = append(ids[id], n)
		}
	}
	for id, ns := range ids {
		if len(ns) > 1 {
			add(causeClusterIDs, "clusters %s share the cluster ID %q", strings.Join(ns, " and "), id)
		}
	}
	var lo, hi string
	for _, c := range st.Primaries() {
		v := got[c.Name].Version
		if _, ok := minor(v); !ok {
			continue
		}
		if lo == "" || less(v, lo) {
			lo = v
		}
		if hi == "" || less(hi, v) {
			hi = v
		}
	}
	if a, ok := minor(lo); ok {
		if b, _ := minor(hi); b-a > 1 {
			add(causeSkew, "primaries' istiods run %s and %s", lo, hi)
		}
	}
	for _, c := range st.Clusters {
		server := c.Name
		if c.Role == env.RoleRemote {
			server = c.Primary
		}
		dp, cp := dataPlaneVersion(got[c.Name]), got[server].Version
		if p := SkewProblem(dp, cp); p != "" {
			by := "its own istiod"
			if server != c.Name {
				by = server + "'s istiod"
			}
			add(causeDataPlaneSkew, "%s's pods are injected with proxies %s, served by %s %s: %s", c.Name, dp, by, cp, p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	f := fail(v1alpha1.AreaConfig, strings.Join(causes, "; "), []string{
		"kubectl --context <cluster> -n istio-system get configmap istio -o jsonpath='{.data.mesh}'",
		"kubectl --context <cluster> -n istio-system get configmap istio-ca-root-cert -o jsonpath='{.data.root-cert\\.pem}' | openssl x509 -noout -fingerprint -sha256",
	}, "%s", strings.Join(problems, "; "))
	f.Final = true // configuration does not converge by waiting
	return f
}

// distinct returns "value (clusters), ..." when the clusters do not all say the same ("" counts as a value: a
// cluster that says nothing does not agree).
func distinct(names []string, of func(string) string) string {
	by := map[string][]string{}
	var order []string
	for _, n := range names {
		v := of(n)
		if _, seen := by[v]; !seen {
			order = append(order, v)
		}
		by[v] = append(by[v], n)
	}
	if len(order) < 2 {
		return ""
	}
	var parts []string
	for _, v := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", dash(v), strings.Join(by[v], ", ")))
	}
	return strings.Join(parts, ", ")
}

// dataPlaneVersion is the proxy version a cluster's pods are injected with: its injector's (a remote's, after
// Effective), else the proxy its injector config names, else its istiod's own.
func dataPlaneVersion(s istiod.Settings) string {
	return cmp.Or(s.InjectorVersion, s.ProxyVersion, s.Version)
}

// SkewProblem says why a data plane of version dp served by a control plane of version cp is outside Istio's
// supported skew (the control plane at most one minor version ahead, the data plane never ahead), "" when it is
// within it or either version is not a release's (a development tag compares by its minor too: 1.31-alpha.x is 31).
func SkewProblem(dp, cp string) string {
	d, ok1 := minor(dp)
	c, ok2 := minor(cp)
	switch {
	case !ok1 || !ok2:
		return ""
	case d > c:
		return fmt.Sprintf("the data plane is %d minor version%s ahead of its control plane", d-c, plural(d-c))
	case c-d > 1:
		return fmt.Sprintf("the control plane is %d minor versions ahead of its data plane (at most 1 is supported)", c-d)
	}
	return ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// minor is the minor version of an Istio version "1.31.0" / "1.31-dev" ("" or a non-release tag: false).
func minor(v string) (int, bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	m, err := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return m, err == nil
}

func less(a, b string) bool {
	x, _ := minor(a)
	y, _ := minor(b)
	return x < y
}

func shortFP(fp string) string {
	if len(fp) > 23 {
		return fp[:23] + "..."
	}
	return fp
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
