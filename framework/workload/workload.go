// Package workload deploys the conformance test workload into a cluster of the mesh and talks to it: an echo server
// (fixtures/workload `server`), a Service that every cluster has, and a long-lived client pod that the suites exec
// into to send calls and read back tallies of who answered.
//
// Two data planes are supported. proxyless runs the echo as a gRPC xDS server next to pilot-agent (Istio's
// grpc-agent injection template, no Envoy): the only data plane that runs where no Envoy image exists. sidecar uses
// Istio's default injection (pilot-agent + Envoy) and a plain gRPC server.
package workload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/kube"
)

// Defaults of Spec.
const (
	DefaultNamespace  = "echo"
	DefaultService    = "echo"
	DefaultPort       = 8080
	DefaultHealthPort = 8081
)

// Names and labels the package gives its objects.
const (
	// ClientName is the client Deployment, its app label, container and service account.
	ClientName = "client"
	// AppLabel and VersionLabel are the pod labels Istio derives canonical service and revision from.
	AppLabel     = "app"
	VersionLabel = "version"
	// ManagedLabel marks what meshconform created (the same key the network package uses).
	ManagedLabel = "meshconform.io/managed"
	// InjectionLabel enables Istio's sidecar injector for a namespace.
	InjectionLabel = "istio-injection"
	// ProxyContainer is the container Istio's injector adds.
	ProxyContainer = "istio-proxy"
	// ProbeContainer is the client pod's container for TCP reachability probes, running as ProxyUID, the UID
	// Istio's traffic capture exempts.
	ProbeContainer = "probe"
	ProxyUID       = 1337
	// Binary is where the workload image keeps the program (its entrypoint).
	Binary = "/workload"

	// Pod annotations of the proxyless data plane: the grpc-agent template (pilot-agent without Envoy, no traffic
	// capture) and, because that template puts istio-proxy after the app, holding the app until the agent is up.
	TemplatesAnnotation   = "inject.istio.io/templates"
	GRPCAgentTemplate     = "grpc-agent"
	ProxyConfigAnnotation = "proxy.istio.io/config"
	HoldApplicationConfig = `{"holdApplicationUntilProxyStarts": true}`

	// CertDir is where pilot-agent writes the workload certificates for gRPC (OUTPUT_CERTS in the grpc-agent
	// template); the directory is an emptyDir mounted in istio-proxy and in every application container.
	CertDir = "/var/lib/istio/data"
)

// Spec describes the workloads of one cluster.
type Spec struct {
	// Namespace defaults to "echo".
	Namespace string
	// Image is the workload image (images.Kit.WorkloadImage()); required.
	Image string
	// Cluster is the topology cluster name; the server reports it and tallies count by it. Required.
	Cluster string
	// Version is the echo version this cluster serves ("v1" in cluster1, "v2" in cluster2: VersionFor). Required
	// unless NoServer.
	Version string
	// NoServer deploys only the Service and the client: a cluster that calls the echo but runs none. The Service is
	// created anyway, since clients resolve the host (DNS and xDS) through it.
	NoServer bool
	// DataPlane is proxyless (default) or sidecar.
	DataPlane env.DataPlane
	// Service is the echo Service name, also its pods' app label and service account; defaults to "echo".
	Service string
	// Port is the gRPC port of the Service and the server; defaults to 8080.
	Port int32
	// HealthPort serves /healthz and /readyz; defaults to 8081.
	HealthPort int32
	// Replicas of the echo Deployment; defaults to 1.
	Replicas int32
	// Env is the environment deploying: every object carries its labels (env.ObjectLabels), and an existing
	// namespace of another environment, or not meshconform's, is refused. Required.
	Env string
	// Injection is how the namespace's pods are injected: istio-injection=enabled (the default, zero value), or
	// istio.io/rev=<revision or tag> for a revisioned mesh (env.MeshCluster.Injection).
	Injection env.Injection
	// CrossNetwork marks proxyless servers as Istio-mTLS endpoints (security.istio.io/tlsMode: istio). istiod hands a
	// client on another network this network's gateway only for such endpoints (the gateway routes by mTLS SNI); it is
	// left off otherwise because it changes how istiod configures TLS for clients of single-network meshes.
	CrossNetwork bool
}

// TLSModeLabel is the label istiod reads to decide whether an endpoint speaks Istio mTLS.
const TLSModeLabel = "security.istio.io/tlsMode"

// VersionFor is the echo version of the cluster at a 0-based index in the topology: "v1" for the first cluster
// (cluster1), "v2" for the second, and so on.
func VersionFor(index int) string { return "v" + strconv.Itoa(index+1) }

// Identity is the SPIFFE ID Istio gives a service account: spiffe://<trust domain>/ns/<ns>/sa/<sa>.
func Identity(trustDomain, ns, serviceAccount string) string {
	return "spiffe://" + trustDomain + "/ns/" + ns + "/sa/" + serviceAccount
}

// Host is the Service's cluster-local name, e.g. echo.echo.svc.cluster.local.
func Host(ns, service string) string { return service + "." + ns + ".svc.cluster.local" }

// Target is the gRPC target a client dials for the Service: xds:///host:port for proxyless, host:port (DNS) for
// the sidecar data plane.
func Target(dataPlane env.DataPlane, ns, service string, port int32) string {
	hp := Host(ns, service) + ":" + strconv.Itoa(int(port))
	if dataPlane == env.DataPlaneSidecar {
		return hp
	}
	return "xds:///" + hp
}

// withDefaults fills defaults and validates.
func (s Spec) withDefaults() (Spec, error) {
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	if s.Service == "" {
		s.Service = DefaultService
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.HealthPort == 0 {
		s.HealthPort = DefaultHealthPort
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	if s.DataPlane == "" {
		s.DataPlane = env.DataPlaneProxyless
	}
	var errs []error
	switch s.DataPlane {
	case env.DataPlaneProxyless, env.DataPlaneSidecar:
	default:
		errs = append(errs, fmt.Errorf("data plane %q: use %s or %s", s.DataPlane, env.DataPlaneProxyless, env.DataPlaneSidecar))
	}
	if s.Image == "" {
		errs = append(errs, errors.New("image is required (images.Kit.WorkloadImage())"))
	}
	if s.Cluster == "" {
		errs = append(errs, errors.New("cluster name is required (the server reports it in every reply)"))
	}
	if s.Env == "" {
		errs = append(errs, errors.New("environment name is required (every object carries it)"))
	}
	if s.Version == "" && !s.NoServer {
		errs = append(errs, errors.New("version is required unless NoServer (VersionFor(cluster index))"))
	}
	if s.Service == ClientName {
		errs = append(errs, fmt.Errorf("service must not be named %q: the client uses that name", ClientName))
	}
	for _, p := range []int32{s.Port, s.HealthPort} {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d out of range 1..65535", p))
		}
	}
	if s.Port == s.HealthPort {
		errs = append(errs, fmt.Errorf("gRPC and health ports are both %d", s.Port))
	}
	if s.Replicas < 0 {
		errs = append(errs, fmt.Errorf("replicas %d is negative", s.Replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return s, fmt.Errorf("workload spec: %w", err)
	}
	return s, nil
}

// ServerName is the echo Deployment's name: <service>-<version>.
func (s Spec) ServerName() string {
	svc := s.Service
	if svc == "" {
		svc = DefaultService
	}
	return svc + "-" + s.Version
}

// Deploy creates or updates the namespace (injection enabled), the service accounts, the echo Service, the echo
// Deployment (unless NoServer) and the client Deployment. Running it again changes nothing that already matches;
// echo Deployments of another version that an earlier Deploy left in the namespace are removed, so the namespace
// converges to the spec. It does not wait: see WaitReady.
func Deploy(ctx context.Context, c *kube.Client, spec Spec) error {
	s, err := spec.withDefaults()
	if err != nil {
		return err
	}
	if err := claimNamespace(ctx, c, s); err != nil {
		return err
	}
	for _, sa := range []*corev1.ServiceAccount{serviceAccount(s, s.Service), serviceAccount(s, ClientName)} {
		if err := ensureServiceAccount(ctx, c, sa); err != nil {
			return err
		}
	}
	if err := c.ApplyService(ctx, echoService(s)); err != nil {
		return err
	}
	keep := ""
	if !s.NoServer {
		d := serverDeployment(s)
		keep = d.Name
		if err := applyDeployment(ctx, c, d); err != nil {
			return err
		}
	}
	if err := removeStaleServers(ctx, c, s, keep); err != nil {
		return err
	}
	return applyDeployment(ctx, c, clientDeployment(s))
}

// Remove deletes the namespace and everything in it. It does not wait for the deletion to finish.
func Remove(ctx context.Context, c *kube.Client, ns string) error {
	err := c.Clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete namespace %s: %w", c.Name, ns, err)
	}
	return nil
}

// managed are the labels of every object environment envName deploys: meshconform.io/managed=true (what older
// versions and the artifacts dump select by) and env.ObjectLabels.
func managed(envName string) map[string]string {
	l := env.ObjectLabels(envName)
	l[ManagedLabel] = "true"
	return l
}

// claimNamespace creates the namespace with injection enabled and the environment's labels, or labels the one that
// exists if it is the environment's (or meshconform's from before environments had names). Another environment's
// namespace, or one meshconform did not create, is refused before anything is written into it: the test workloads
// would be mixed with what is there, and `down` could not remove them without removing that too.
func claimNamespace(ctx context.Context, c *kube.Client, s Spec) error {
	if err := CheckNamespace(ctx, c, s.Env, s.Namespace); err != nil {
		return err
	}
	ns := namespace(s)
	if err := c.EnsureNamespace(ctx, ns.Name, ns.Labels); err != nil {
		return err
	}
	// A label that selects another injector goes: the namespace is the environment's (CheckNamespace).
	_, remove := NamespaceLabels(s.Injection)
	return c.RemoveNamespaceLabels(ctx, ns.Name, remove...)
}

// CheckNamespace is nil when environment envName may deploy the test workloads into namespace ns of c: it does not
// exist, or it is the environment's, or meshconform's from before environments had names. Otherwise it is a
// *env.RefusedError naming it and its owner. It writes nothing.
func CheckNamespace(ctx context.Context, c *kube.Client, envName, ns string) error {
	have, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap(c, "get namespace "+ns, err)
	}
	o := env.OwnerOf(have.Labels)
	if o.Mine(envName) || o.Unnamed() {
		return nil
	}
	fix := "the test workloads would be mixed with what it holds, and `meshconform down` could not remove them " +
		"without removing that too; delete it, or run the tests in a cluster without it"
	if o.Meshconform {
		fix = "two environments cannot share a cluster's test workloads; remove the other one first " +
			"(`meshconform down --env " + o.Env + "`, from its state directory)"
	}
	return &env.RefusedError{Cluster: c.Name, Kind: "Namespace", Name: ns, Owner: o, Env: envName, Fix: fix}
}

func namespace(s Spec) *corev1.Namespace {
	l := managed(s.Env)
	set, _ := NamespaceLabels(s.Injection)
	maps.Copy(l, set)
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace, Labels: l}}
}

func serviceAccount(s Spec, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: managed(s.Env)}}
}

func echoService(s Spec) *corev1.Service {
	l := managed(s.Env)
	l[AppLabel] = s.Service
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.Service, Namespace: s.Namespace, Labels: l},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{AppLabel: s.Service},
			Ports: []corev1.ServicePort{{
				// Istio selects the protocol from the port name or appProtocol: a tcp-* name breaks proxyless
				// routing ("could not find VirtualHost").
				Name:        "grpc",
				AppProtocol: new("grpc"),
				Protocol:    corev1.ProtocolTCP,
				Port:        s.Port,
				TargetPort:  intstr.FromInt32(s.Port),
			}},
		},
	}
}

// podAnnotations are the data plane's pod annotations.
func podAnnotations(dataPlane env.DataPlane) map[string]string {
	if dataPlane != env.DataPlaneProxyless {
		return nil
	}
	return map[string]string{
		TemplatesAnnotation:   GRPCAgentTemplate,
		ProxyConfigAnnotation: HoldApplicationConfig,
	}
}

func downwardEnv(s Spec, version string) []corev1.EnvVar {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	env := []corev1.EnvVar{{Name: "CLUSTER", Value: s.Cluster}}
	if version != "" {
		env = append(env, corev1.EnvVar{Name: "VERSION", Value: version})
	}
	return append(env,
		field("POD_NAME", "metadata.name"),
		field("POD_NAMESPACE", "metadata.namespace"),
		field("POD_IP", "status.podIP"),
	)
}

func smallResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("10m"),
		corev1.ResourceMemory: resource.MustParse("32Mi"),
	}}
}

func serverDeployment(s Spec) *appsv1.Deployment {
	sel := map[string]string{AppLabel: s.Service, VersionLabel: s.Version}
	args := []string{"server", "--port", strconv.Itoa(int(s.Port)), "--health-port", strconv.Itoa(int(s.HealthPort))}
	if s.DataPlane == env.DataPlaneProxyless {
		args = append(args, "--xds")
	}
	container := corev1.Container{
		Name:            s.Service,
		Image:           s.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		// The proxyless agent reports declared ports to istiod (ISTIO_META_POD_PORTS); declare the gRPC port.
		Ports: []corev1.ContainerPort{
			{Name: "grpc", ContainerPort: s.Port, Protocol: corev1.ProtocolTCP},
			{Name: "http-health", ContainerPort: s.HealthPort, Protocol: corev1.ProtocolTCP},
		},
		Env: downwardEnv(s, s.Version),
		// /readyz follows the gRPC server: for an xDS server, whether its listener arrived and it serves. The
		// grpc-agent template captures no traffic and does not rewrite probes, so kubelet reaches the port directly;
		// the sidecar template rewrites the probe through the agent.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/readyz", Port: intstr.FromInt32(s.HealthPort)}},
			PeriodSeconds:    2,
			TimeoutSeconds:   2,
			FailureThreshold: 3,
		},
		Resources: smallResources(),
	}
	return deployment(s, s.ServerName(), s.Service, sel, s.Replicas, container)
}

func clientDeployment(s Spec) *appsv1.Deployment {
	container := corev1.Container{
		Name:            ClientName,
		Image:           s.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"sleep"},
		Env:             downwardEnv(s, ""),
		Resources:       smallResources(),
	}
	d := deployment(s, ClientName, ClientName, map[string]string{AppLabel: ClientName}, 1, container)
	// Reachability probes run as Istio's proxy UID, which the sidecar's iptables capture lets through: probed from
	// the client container, every connection would be accepted by the local Envoy, reachable or not.
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{
		Name: ProbeContainer, Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent, Args: []string{"sleep"},
		SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(ProxyUID)), RunAsNonRoot: new(true)},
		Resources:       smallResources(),
	})
	return d
}

func podLabels(s Spec, selector map[string]string) map[string]string {
	l := maps.Clone(selector)
	if s.CrossNetwork && s.DataPlane == env.DataPlaneProxyless && selector[VersionLabel] != "" {
		l[TLSModeLabel] = "istio"
	}
	return l
}

func deployment(s Spec, name, serviceAccount string, selector map[string]string, replicas int32, c corev1.Container) *appsv1.Deployment {
	objLabels := managed(s.Env)
	maps.Copy(objLabels, selector)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: objLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(selector)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(s, selector), Annotations: podAnnotations(s.DataPlane)},
				Spec: corev1.PodSpec{
					ServiceAccountName:            serviceAccount,
					TerminationGracePeriodSeconds: new(int64(10)),
					Containers:                    []corev1.Container{c},
				},
			},
		},
	}
}

func labelsContain(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func ensureServiceAccount(ctx context.Context, c *kube.Client, sa *corev1.ServiceAccount) error {
	sas := c.Clientset.CoreV1().ServiceAccounts(sa.Namespace)
	_, err := sas.Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		have, err := sas.Get(ctx, sa.Name, metav1.GetOptions{})
		if err != nil || labelsContain(have.Labels, sa.Labels) {
			return wrap(c, "get service account "+sa.Namespace+"/"+sa.Name, err)
		}
		have.Labels = mergeLabels(have.Labels, sa.Labels)
		_, err = sas.Update(ctx, have, metav1.UpdateOptions{})
		return wrap(c, "label service account "+sa.Namespace+"/"+sa.Name, err)
	}
	return wrap(c, "create service account "+sa.Namespace+"/"+sa.Name, err)
}

func applyDeployment(ctx context.Context, c *kube.Client, want *appsv1.Deployment) error {
	deps := c.Clientset.AppsV1().Deployments(want.Namespace)
	have, err := deps.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = deps.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "create deployment "+want.Namespace+"/"+want.Name, err)
	}
	if err != nil {
		return wrap(c, "get deployment "+want.Namespace+"/"+want.Name, err)
	}
	if have.Labels[ManagedLabel] != "true" {
		return fmt.Errorf("%s: deployment %s/%s exists and was not made by meshconform (no %s label); not touching it",
			c.Name, want.Namespace, want.Name, ManagedLabel)
	}
	want = want.DeepCopy()
	want.ResourceVersion = have.ResourceVersion
	// The selector is immutable: a changed one needs the Deployment recreated.
	if !equalLabels(have.Spec.Selector, want.Spec.Selector) {
		if err := deps.Delete(ctx, want.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(c, "replace deployment "+want.Namespace+"/"+want.Name, err)
		}
		want.ResourceVersion = ""
		_, err = deps.Create(ctx, want, metav1.CreateOptions{})
		return wrap(c, "recreate deployment "+want.Namespace+"/"+want.Name, err)
	}
	_, err = deps.Update(ctx, want, metav1.UpdateOptions{})
	return wrap(c, "update deployment "+want.Namespace+"/"+want.Name, err)
}

func equalLabels(a, b *metav1.LabelSelector) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.MatchLabels, b.MatchLabels) && len(a.MatchExpressions) == 0 && len(b.MatchExpressions) == 0
}

// removeStaleServers deletes echo Deployments this package made for another version.
func removeStaleServers(ctx context.Context, c *kube.Client, s Spec, keep string) error {
	sel := labels.Set{AppLabel: s.Service, ManagedLabel: "true"}.String()
	deps := c.Clientset.AppsV1().Deployments(s.Namespace)
	list, err := deps.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return wrap(c, "list deployments in "+s.Namespace, err)
	}
	for _, d := range list.Items {
		if d.Name == keep {
			continue
		}
		if err := deps.Delete(ctx, d.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return wrap(c, "delete stale deployment "+s.Namespace+"/"+d.Name, err)
		}
	}
	return nil
}

func wrap(c *kube.Client, what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", c.Name, what, err)
}
