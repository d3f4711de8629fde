package istio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/trust"
)

// namespace creates istio-system with the network label and, on a remote, the annotation naming its primary (the
// primary's istiod then leads the remote: root certificate distribution and webhook caBundle patching).
func (r *run) namespace(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	annotations := map[string]string{}
	if tc.IsRemote() {
		annotations[ControlPlaneClustersAnnot] = tc.Primary
	}
	if _, _, err := r.clients[name].EnsureNamespaceWith(ctx, kube.Namespace{Name: Namespace, CreateLabels: managedLabels(),
		Labels: map[string]string{NetworkLabel: tc.Network}, Annotations: annotations}); err != nil {
		return err
	}
	if tc.IsRemote() {
		// Workloads of a remote get certificates from the primary's istiod, signed by the primary's intermediate.
		b, err := r.ca.Intermediate(tc.Primary)
		if err != nil {
			return err
		}
		r.mesh(name, func(mc *env.MeshCluster) { mc.IntermediateFingerprint = b.Fingerprint() })
		r.logf(name, began, "namespace %s: network %s, control plane in %s", Namespace, tc.Network, tc.Primary)
		return nil
	}
	r.logf(name, began, "namespace %s: network %s", Namespace, tc.Network)
	return nil
}

// cacerts applies the primary's intermediate before istiod starts; a change under a running istiod restarts it.
func (r *run) cacerts(ctx context.Context, name string) error {
	began := time.Now()
	b, err := r.ca.Intermediate(name)
	if err != nil {
		return err
	}
	c := r.clients[name]
	changed, err := trust.ApplySecret(ctx, c, b)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.IntermediateFingerprint = b.Fingerprint() })
	what := "unchanged"
	if changed {
		what = "written"
		restarted, err := restartIfExists(ctx, c, "istiod")
		if err != nil {
			return err
		}
		if restarted {
			what = "written under a running istiod: istiod restarted (workloads started before keep their old certificates until restarted)"
		}
	}
	r.logf(name, began, "cacerts %s (intermediate %s)", what, short(b.Fingerprint()))
	return nil
}

func short(fp string) string {
	if len(fp) > 23 {
		return fp[:23] + "..."
	}
	return fp
}

// restartIfExists rolls a Deployment in istio-system (kubectl rollout restart) and waits until only new pods run,
// reporting whether it existed.
func restartIfExists(ctx context.Context, c *kube.Client, name string) (bool, error) {
	_, err := c.Clientset.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: get %s: %w", c.Name, name, err)
	}
	return true, c.RolloutRestart(ctx, Namespace, name, 3*time.Minute)
}

// writeOperator renders an IstioOperator into the environment's istio directory and returns the file.
func (r *run) writeOperator(file string, op *IstioOperator) (string, error) {
	b, err := op.YAML()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r.st.Dir(), "istio")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func (r *run) controlPlane(ctx context.Context, name string) error {
	began := time.Now()
	op, err := ControlPlaneOperator(RenderInput{Topology: r.t, Cluster: name, Hub: r.opts.Hub, Tag: r.opts.Tag})
	if err != nil {
		return err
	}
	file, err := r.writeOperator(name+".yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.Install(ctx, r.target(name), op, file); err != nil {
		return err
	}
	if err := r.clients[name].WaitDeploymentAvailable(ctx, Namespace, "istiod", r.opts.Timeouts.IstiodReady); err != nil {
		if strings.Contains(err.Error(), "ImagePull") || strings.Contains(err.Error(), "ErrImageNeverPull") {
			if r.opts.Hub == "" && r.opts.Tag == "" {
				return fmt.Errorf("istiod: %w; the nodes cannot pull %s's default pilot image (see the pod's image): "+
					"this machine reaches no registry serving it; use the image kit's build (drop --istio-version) or point "+
					"--hub/--tag at a reachable registry", err, r.inst.Name())
			}
			return fmt.Errorf("istiod: %w; the nodes cannot pull %s/pilot:%s: load the image into them first (kind: "+
				"clusters.LoadImages with images.PilotImage and images.ProxyV2Image) or point --hub/--tag at a reachable registry",
				err, r.opts.Hub, r.opts.Tag)
		}
		return fmt.Errorf("istiod: %w", err)
	}
	running, err := r.inst.Verify(ctx, r.target(name), true)
	if err != nil {
		return err
	}
	r.mu.Lock()
	installerVersion := r.st.Mesh.IstioVersion
	if installerVersion == "" {
		// The installer could not tell (development charts say 1.0.0): the running istiod does.
		r.st.Mesh.IstioVersion = running
	}
	r.mu.Unlock()
	if running != "" && installerVersion != "" && running != installerVersion {
		r.note(fmt.Sprintf("istiod in %s reports version %s; %s is %s", name, running, r.inst.Name(), installerVersion))
	}
	r.logf(name, began, "istiod %s available (%s, profile %s)", orUnknown(running), file, op.Spec.Profile)
	return nil
}

// eastWest installs the east-west gateway, the cross-network Gateway (multi-network) and istiod's Gateway and
// VirtualService (gateway exposure), then waits for the gateway's LoadBalancer IP.
func (r *run) eastWest(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	op := EastWestOperator(tc.Network, r.opts.Hub, r.opts.Tag)
	file, err := r.writeOperator(name+"-eastwest.yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.InstallGateway(ctx, r.target(name), op, file); err != nil {
		return err
	}
	ic := r.istio[name]
	if r.t.MultiNetwork() {
		if err := applyGateway(ctx, ic, CrossNetworkGateway()); err != nil {
			return fmt.Errorf("%s: Gateway %s: %w", name, CrossNetworkGatewayName, err)
		}
	}
	if tc.IsPrimary() && r.opts.ExposeIstiod == env.ExposeGateway && len(r.t.RemotesOf(name)) > 0 {
		if err := applyGateway(ctx, ic, IstiodGateway()); err != nil {
			return fmt.Errorf("%s: Gateway %s: %w", name, IstiodGatewayName, err)
		}
		if err := applyVirtualService(ctx, ic, IstiodVirtualService()); err != nil {
			return fmt.Errorf("%s: VirtualService %s: %w", name, IstiodVirtualServiceName, err)
		}
	}
	ip, err := waitLoadBalancerIP(ctx, r.clients[name], EastWestGatewayName, r.opts.Timeouts.GatewayAddress)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.EastWestGateway = ip })
	r.logf(name, began, "east-west gateway %s at %s", EastWestGatewayName, ip)
	return nil
}

// exposeIstiod makes a primary's istiod reachable for its remotes and records the address on all of them.
func (r *run) exposeIstiod(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	var addr, how string
	switch r.opts.ExposeIstiod {
	case env.ExposeLoadBalancer:
		if err := c.ApplyService(ctx, IstiodLoadBalancer()); err != nil {
			return fmt.Errorf("%s: Service %s: %w", name, IstiodLBServiceName, err)
		}
		ip, err := waitLoadBalancerIP(ctx, c, IstiodLBServiceName, r.opts.Timeouts.GatewayAddress)
		if err != nil {
			return err
		}
		addr, how = ip, "Service "+IstiodLBServiceName
	case env.ExposeGateway:
		addr, how = r.meshCluster(name).EastWestGateway, "the east-west gateway"
		if addr == "" {
			return fmt.Errorf("%s: istiod is to be exposed through the east-west gateway, which has no address", name)
		}
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.IstiodAddress = addr })
	var remotes []string
	for _, rc := range r.t.RemotesOf(name) {
		r.mesh(rc.Name, func(mc *env.MeshCluster) { mc.IstiodAddress = addr })
		remotes = append(remotes, rc.Name)
	}
	r.logf(name, began, "istiod exposed at %s through %s for %s", addr, how, strings.Join(remotes, ", "))
	return nil
}

// remote installs the remote profile pointing at the primary's exposed istiod.
func (r *run) remote(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	addr := r.meshCluster(tc.Primary).IstiodAddress
	op, err := ControlPlaneOperator(RenderInput{Topology: r.t, Cluster: name, Hub: r.opts.Hub, Tag: r.opts.Tag, RemotePilotAddress: addr})
	if err != nil {
		return err
	}
	file, err := r.writeOperator(name+".yaml", op)
	if err != nil {
		return err
	}
	if err := r.inst.Install(ctx, r.target(name), op, file); err != nil {
		return err
	}
	if _, err := r.inst.Verify(ctx, r.target(name), false); err != nil {
		return err
	}
	r.logf(name, began, "remote profile installed, istiod at %s (%s) (%s)", addr, tc.Primary, file)
	return nil
}

// remoteWebhook waits until the primary's istiod has patched the remote's injection webhook with its CA bundle,
// which it does only as the remote's control plane (externalIstiod plus the controlPlaneClusters annotation) once it
// reads the remote through its secret.
func (r *run) remoteWebhook(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	c := r.clients[name]
	err := kube.Poll(ctx, name+": caBundle of MutatingWebhookConfiguration "+injectorWebhook, 2*time.Second, r.opts.Timeouts.RemoteSync,
		func(ctx context.Context) (bool, string, error) {
			wh, err := c.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, injectorWebhook, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			if len(wh.Webhooks) == 0 {
				return false, "no webhooks", nil
			}
			for _, w := range wh.Webhooks {
				if len(w.ClientConfig.CABundle) == 0 {
					return false, "webhook " + w.Name + " has no caBundle yet", nil
				}
			}
			return true, "", nil
		})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: istiod in %s patches it only when it runs with EXTERNAL_ISTIOD=true (values.global.externalIstiod), "+
			"%s's namespace %s carries %s=%s, and its remote secret for %s is loaded (istio#42327); until then every "+
			"pod the webhook selects is refused", err, tc.Primary, name, Namespace, ControlPlaneClustersAnnot, tc.Primary, name)
	}
	r.logf(name, began, "injection webhook patched by %s's istiod", tc.Primary)
	return nil
}

// readerToken returns the peer's reader token, creating it once per run.
func (r *run) readerToken(ctx context.Context, peer string) ([]byte, error) {
	r.mu.Lock()
	tok, ok := r.tokens[peer]
	r.mu.Unlock()
	if ok {
		return tok, nil
	}
	tok, err := ReaderToken(ctx, r.clients[peer], r.opts.Timeouts.ReaderToken)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.tokens[peer] = tok
	r.mu.Unlock()
	return tok, nil
}

// apiEndpoint is how other clusters reach peer's API server: the in-network kubeconfig of a kind cluster, the
// user's kubeconfig (and context) of a bring-your-own cluster.
func (r *run) apiEndpoint(peer string) (APIEndpoint, error) {
	ec := r.envs[peer]
	if ec.Access.InternalKubeconfig != "" {
		return LoadAPIEndpoint(peer, ec.Access.InternalKubeconfig, ec.Access.Context)
	}
	return LoadAPIEndpoint(peer, ec.Access.Kubeconfig, ec.Access.Context)
}

// remoteSecret writes, in primary, the secret that lets its istiod read peer.
func (r *run) remoteSecret(ctx context.Context, primary, peer string) error {
	began := time.Now()
	ep, err := r.apiEndpoint(peer)
	if err != nil {
		return err
	}
	tok, err := r.readerToken(ctx, peer)
	if err != nil {
		return err
	}
	kc, err := RemoteKubeconfig(peer, ep, tok)
	if err != nil {
		return err
	}
	wrote, err := ApplyRemoteSecret(ctx, r.clients[primary], RemoteSecret(peer, kc))
	if err != nil {
		return err
	}
	what := "unchanged"
	if wrote {
		what = "written"
	}
	r.logf(primary, began, "remote secret %s%s %s (server %s)", RemoteSecretPrefix, peer, what, ep.Server)
	return nil
}

// gatewayPods judges the east-west gateway's pods; pods that cannot run are recorded, not fatal, for the proxyless
// data plane (no Envoy image exists here), and fatal for the sidecar data plane, whose traffic needs them.
func (r *run) gatewayPods(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	v, err := watchGatewayPods(ctx, c, r.opts.Timeouts.GatewayPods)
	if err != nil {
		return err
	}
	r.mesh(name, func(mc *env.MeshCluster) { mc.GatewayReady, mc.GatewayCannotRun = v.Ready, false })
	if v.Ready {
		r.logf(name, began, "east-west gateway pods ready")
		return nil
	}
	why := gatewayImageVerdict(ctx, c)
	if r.opts.DataPlane == env.DataPlaneSidecar {
		return fmt.Errorf("%s: east-west gateway pods not ready after %s: %s%s", name, r.opts.Timeouts.GatewayPods, v.State, why)
	}
	r.noteGatewayCannotRun(name)
	verdict := "cannot run"
	if !v.CannotRun {
		verdict = "not ready after " + r.opts.Timeouts.GatewayPods.String()
	}
	r.logf(name, began, "east-west gateway pods %s (%s)%s: continuing without them; multi-network traffic specs will be skipped",
		verdict, v.State, why)
	return nil
}

// gatewayImageVerdict reads the gateway image's io.meshconform.envoy label from the local docker daemon (where kind
// loaded it from); empty when unknown.
func gatewayImageVerdict(ctx context.Context, c *kube.Client) string {
	pods, err := c.Clientset.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + EastWestGatewayName})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	for _, ctr := range pods.Items[0].Spec.Containers {
		if ctr.Name != "istio-proxy" {
			continue
		}
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format",
			`{{ index .Config.Labels "io.meshconform.envoy" }}`, ctr.Image).Output()
		if label := strings.TrimSpace(string(out)); err == nil && label != "" && label != "<no value>" {
			return "; image " + ctr.Image + " says Envoy is " + label
		}
	}
	return ""
}

// note records a note once.
func (r *run) note(n string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.st.Mesh.Notes {
		if have == n {
			return
		}
	}
	r.st.Mesh.Notes = append(r.st.Mesh.Notes, n)
}

// noteGatewayCannotRun records the fact in the cluster's mesh record (what the specs read) and the cluster in the
// one note about gateways that cannot run (what the report's reader reads).
func (r *run) noteGatewayCannotRun(cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mc := r.st.Mesh.Clusters[cluster]
	mc.GatewayCannotRun = true
	r.st.Mesh.Clusters[cluster] = mc
	r.noEnvoy = append(r.noEnvoy, cluster)
	sort.Strings(r.noEnvoy)
	note := NoteGatewayCannotRun + " (clusters: " + strings.Join(r.noEnvoy, ", ") + ")"
	notes := r.st.Mesh.Notes[:0]
	for _, n := range r.st.Mesh.Notes {
		if !strings.HasPrefix(n, NoteGatewayCannotRun) {
			notes = append(notes, n)
		}
	}
	r.st.Mesh.Notes = append(notes, note)
}

// sync waits until every running istiod of the primary reports every cluster of the topology synced.
func (r *run) sync(ctx context.Context, name string) error {
	began := time.Now()
	c := r.clients[name]
	// istiod lists clusters by their Istio IDs: the names, unless a preinstalled mesh uses others.
	var want []string
	for _, tc := range r.t.Spec.Clusters {
		want = append(want, r.istioID(tc.Name))
	}
	var problems map[string][]SyncProblem // by istiod pod
	err := kube.Poll(ctx, name+": istiod reports every cluster synced", 2*time.Second, r.opts.Timeouts.RemoteSync,
		func(ctx context.Context) (bool, string, error) {
			pods, err := runningIstiods(ctx, c)
			if err != nil {
				return false, err.Error(), nil
			}
			if len(pods) == 0 {
				return false, "no running istiod pod", nil
			}
			problems = map[string][]SyncProblem{}
			var states []string
			for _, p := range pods {
				b, err := r.fetch(ctx, c, p.Name)
				if err != nil {
					states = append(states, p.Name+": "+err.Error())
					problems[p.Name] = nil
					continue
				}
				statuses, err := ParseClusterz(b)
				if err != nil {
					states = append(states, p.Name+": "+err.Error())
					continue
				}
				if ps := SyncProblems(statuses, want); len(ps) > 0 {
					problems[p.Name] = ps
					var s []string
					for _, pr := range ps {
						s = append(s, pr.String())
					}
					states = append(states, p.Name+": "+strings.Join(s, "; "))
				}
			}
			return len(states) == 0, strings.Join(states, " | "), nil
		})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w%s", err, r.diagnoseSync(ctx, name, problems))
	}
	r.logf(name, began, "istiod reports %s synced", strings.Join(want, ", "))
	return nil
}

// istioID is the ID Istio knows a topology cluster by (recorded by verify for preinstalled meshes).
func (r *run) istioID(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id := r.st.Mesh.Clusters[name].IstioClusterID; id != "" {
		return id
	}
	return name
}

// topologyName is the topology cluster Istio knows by id.
func (r *run) topologyName(id string) string {
	for _, tc := range r.t.Spec.Clusters {
		if r.istioID(tc.Name) == id {
			return tc.Name
		}
	}
	return id
}

// diagnoseSync names, for each cluster a primary's istiod does not report synced, the likely cause.
func (r *run) diagnoseSync(ctx context.Context, primary string, problems map[string][]SyncProblem) string {
	var sb strings.Builder
	seen := map[string]bool{}
	pods := make([]string, 0, len(problems))
	for p := range problems {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, pod := range pods {
		for _, pr := range problems[pod] {
			if seen[pr.Cluster] {
				continue
			}
			seen[pr.Cluster] = true
			server := "?"
			if name := r.topologyName(pr.Cluster); r.envs[name] != nil {
				if ep, err := r.apiEndpoint(name); err == nil {
					server = ep.Server
				}
			}
			switch {
			case pr.Cluster == r.istioID(primary):
				fmt.Fprintf(&sb, "\n  %s: istiod has not synced its own cluster (status %q): check istiod's log", primary, pr.Status)
			case pr.Status == "":
				fmt.Fprintf(&sb, "\n  %s: istiod in %s lists no cluster %s: it did not load Secret %s/%s%s (label %s=true); "+
					"check that the secret exists and holds a valid kubeconfig", pr.Cluster, primary, pr.Cluster, Namespace,
					RemoteSecretPrefix, pr.Cluster, MultiClusterLabel)
			default:
				fmt.Fprintf(&sb, "\n  %s: istiod in %s reports %q: it cannot finish reading %s's API server %s; check that "+
					"%s is reachable from %s's pods (isolated networks allow only API servers and LoadBalancer ranges "+
					"across networks), that the token of %s/%s in %s is valid, and that the server is not a loopback address",
					pr.Cluster, primary, pr.Status, pr.Cluster, server, serverHost(server), primary, Namespace, ReaderTokenSecret, pr.Cluster)
			}
			if line := lastIstiodError(ctx, r.clients[primary], pod, pr.Cluster); line != "" {
				fmt.Fprintf(&sb, "\n    last istiod error: %s", line)
			}
		}
	}
	return sb.String()
}

// verify checks a preinstalled cluster and records what it runs.
func (r *run) verify(ctx context.Context, name string) error {
	began := time.Now()
	tc, _ := r.t.Cluster(name)
	c := r.clients[name]
	version, err := r.inst.Verify(ctx, r.target(name), tc.IsPrimary())
	if err != nil {
		return err
	}
	var rootFP, interFP, ewIP, istiodAddr string
	if cm, err := c.Clientset.CoreV1().ConfigMaps(Namespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{}); err == nil {
		rootFP, _ = trust.FingerprintPEM([]byte(cm.Data["root-cert.pem"]))
	}
	if tc.IsPrimary() {
		if s, err := c.Clientset.CoreV1().Secrets(Namespace).Get(ctx, trust.SecretName, metav1.GetOptions{}); err == nil {
			interFP, _ = trust.FingerprintPEM(s.Data[trust.CACertKey])
		}
	}
	if svc, err := c.Clientset.CoreV1().Services(Namespace).Get(ctx, EastWestGatewayName, metav1.GetOptions{}); err == nil {
		if ewIP, _, err = LoadBalancerIP(svc); err != nil {
			return err
		}
	}
	if tc.IsPrimary() && len(r.t.RemotesOf(name)) > 0 {
		istiodAddr = ewIP
		if svc, err := c.Clientset.CoreV1().Services(Namespace).Get(ctx, IstiodLBServiceName, metav1.GetOptions{}); err == nil {
			if ip, ok, _ := LoadBalancerIP(svc); ok {
				istiodAddr = ip
			}
		}
	}
	if tc.IsRemote() {
		istiodAddr = remoteIstiodAddress(ctx, c)
	}
	id, err := ClusterID(ctx, c, tc.IsPrimary())
	if err != nil {
		return err
	}
	if id != "" && id != name {
		r.logf(name, began, "Istio knows this cluster as %q", id)
	}
	r.mu.Lock()
	mc := r.st.Mesh.Clusters[name]
	mc.IntermediateFingerprint, mc.EastWestGateway, mc.IstiodAddress = interFP, ewIP, istiodAddr
	if id != name {
		mc.IstioClusterID = id
	}
	r.st.Mesh.Clusters[name] = mc
	if rootFP != "" {
		if r.st.Mesh.RootFingerprint == "" {
			r.st.Mesh.RootFingerprint = rootFP
		} else if r.st.Mesh.RootFingerprint != rootFP {
			r.st.Mesh.Notes = append(r.st.Mesh.Notes, fmt.Sprintf("root certificates differ: %s distributes %s, another cluster %s",
				name, rootFP, r.st.Mesh.RootFingerprint))
		}
	}
	if version != "" && r.st.Mesh.IstioVersion == "" {
		r.st.Mesh.IstioVersion = version
	}
	r.mu.Unlock()
	if tc.IsPrimary() {
		r.logf(name, began, "preinstalled istiod %s found", orUnknown(version))
	} else {
		r.logf(name, began, "preinstalled remote found, istiod at %s", orUnknown(istiodAddr))
	}
	return nil
}

// remoteIstiodAddress is the address a remote's istiod Service leads to: its ExternalName, else its endpoint.
func remoteIstiodAddress(ctx context.Context, c *kube.Client) string {
	svc, err := c.Clientset.CoreV1().Services(Namespace).Get(ctx, "istiod", metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if svc.Spec.ExternalName != "" {
		return svc.Spec.ExternalName
	}
	slices, err := c.Clientset.DiscoveryV1().EndpointSlices(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=istiod"})
	if err != nil {
		return ""
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if len(e.Addresses) > 0 {
				return e.Addresses[0]
			}
		}
	}
	return ""
}
