package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Helm release names: the ones of Istio's Helm install and multicluster guides, so `helm list` reads like the docs.
const (
	HelmReleaseBase     = "istio-base"
	HelmReleaseIstiod   = "istiod"
	HelmReleaseEastWest = EastWestGatewayName
)

// Chart keys of HelmRelease.Chart (installer.HelmCharts holds their directories).
const (
	ChartBase    = "base"
	ChartIstiod  = "istiod"
	ChartGateway = "gateway"
)

// HelmRelease is one `helm upgrade --install` meshconform runs.
type HelmRelease struct {
	// Name is the release name; Chart a HelmCharts key.
	Name, Chart string
	Values      map[string]any
	// Wait: helm waits for the release's resources (not for gateways, whose pods may never run here).
	Wait bool
}

// HelmReleases translates an IstioOperator into the releases of Istio's charts that install the same thing, the way
// Istio's Helm multicluster guides do: a control plane becomes the base chart and the istiod chart (profile remote
// on a remote: no istiod, only the injection webhook and a Service for remotePilotAddress); the east-west gateway
// becomes the gateway chart with networkGateway set, which gives the network label, the requested network view and
// the ports 15021, 15443, 15012 and 15017.
//
// Everything in spec.values is passed on unchanged (IstioOperator values are the charts' values, as istioctl
// renders them); spec.hub and spec.tag become global.hub and global.tag, spec.meshConfig becomes meshConfig.
func HelmReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op == nil {
		return nil, errors.New("helm: no IstioOperator to translate")
	}
	switch op.Spec.Profile {
	case profileMinimal, ProfileRemote:
		return controlPlaneReleases(op)
	case profileEmpty:
		return gatewayReleases(op)
	}
	return nil, fmt.Errorf("helm: IstioOperator %s has profile %q, which meshconform does not translate to charts "+
		"(minimal, remote or empty)", op.Metadata.Name, op.Spec.Profile)
}

func controlPlaneReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op.Spec.Components != nil && len(op.Spec.Components.IngressGateways) > 0 {
		return nil, fmt.Errorf("helm: IstioOperator %s: gateways belong in their own IstioOperator", op.Metadata.Name)
	}
	values, err := toMap(op.Spec.Values)
	if err != nil {
		return nil, err
	}
	if _, ok := values["gateways"]; ok {
		return nil, fmt.Errorf("helm: IstioOperator %s: values.gateways has no meaning for the istiod chart", op.Metadata.Name)
	}
	// The istiod chart takes istiod's settings at its top level; IstioOperator nests them under values.pilot.
	if pilot, ok := values["pilot"].(map[string]any); ok {
		delete(values, "pilot")
		for k, v := range pilot {
			if _, clash := values[k]; clash {
				return nil, fmt.Errorf("helm: IstioOperator %s: values.pilot.%s and values.%s both set", op.Metadata.Name, k, k)
			}
			values[k] = v
		}
	}
	global, _ := values["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
	}
	if op.Spec.Hub != "" {
		global["hub"] = op.Spec.Hub
	}
	if op.Spec.Tag != "" {
		global["tag"] = op.Spec.Tag
	}
	if len(global) > 0 {
		values["global"] = global
	}
	if op.Spec.MeshConfig != nil {
		mc, err := toMap(op.Spec.MeshConfig)
		if err != nil {
			return nil, err
		}
		if len(mc) > 0 {
			values["meshConfig"] = mc
		}
	}
	base := map[string]any{}
	istiodRelease := HelmReleaseIstiod
	if rev := op.Spec.Revision; rev != "" {
		// Istio's Helm canary guide: the istiod chart with revision=<rev> in a release of its own (so a second
		// revision can sit beside it), and the base chart's default revision naming it, so that its validation
		// webhook calls istiod-<rev> (a Service istiod does not exist in a revision-only install).
		values["revision"] = rev
		base["defaultRevision"] = rev
		istiodRelease = HelmReleaseIstiod + "-" + rev
	}
	if op.Spec.Profile == ProfileRemote {
		// The remote profile is a values profile of both charts (istioctl's remote profile sets values.profile).
		values["profile"] = ProfileRemote
		base["profile"] = ProfileRemote
	}
	return []HelmRelease{
		{Name: HelmReleaseBase, Chart: ChartBase, Values: base, Wait: true},
		{Name: istiodRelease, Chart: ChartIstiod, Values: values, Wait: true},
	}, nil
}

// networkGatewayPorts are the ports the gateway chart's Service gets when networkGateway is set.
var networkGatewayPorts = map[string]int32{"status-port": PortStatus, "tls": PortTLS, "tls-istiod": PortIstiodXDS, "tls-webhook": PortIstiodHook}

func gatewayReleases(op *IstioOperator) ([]HelmRelease, error) {
	if op.Spec.Components == nil || len(op.Spec.Components.IngressGateways) != 1 {
		return nil, fmt.Errorf("helm: IstioOperator %s: the gateway chart installs exactly one gateway", op.Metadata.Name)
	}
	gw := op.Spec.Components.IngressGateways[0]
	if !gw.Enabled {
		return nil, nil
	}
	var network string
	if op.Spec.Values != nil && op.Spec.Values.Global != nil {
		network = op.Spec.Values.Global.Network
	}
	if network == "" || gw.Label[NetworkLabel] != network {
		return nil, fmt.Errorf("helm: gateway %s: label %s=%q and values.global.network=%q must name the same network",
			gw.Name, NetworkLabel, gw.Label[NetworkLabel], network)
	}
	labels := map[string]any{}
	for k, v := range gw.Label {
		// networkGateway writes the network label itself; a second one would be a duplicate key in the pod template.
		if k != NetworkLabel {
			labels[k] = v
		}
	}
	env := map[string]any{}
	if gw.K8s != nil {
		for _, e := range gw.K8s.Env {
			if e.Name == RequestedNetworkViewEnv {
				if e.Value != network {
					return nil, fmt.Errorf("helm: gateway %s: %s=%q, but the gateway chart sets it to its network %q",
						gw.Name, RequestedNetworkViewEnv, e.Value, network)
				}
				continue // networkGateway sets it
			}
			env[e.Name] = e.Value
		}
		if gw.K8s.Service != nil {
			if len(gw.K8s.Service.Ports) != len(networkGatewayPorts) {
				return nil, fmt.Errorf("helm: gateway %s: %d Service ports; the gateway chart's network gateway serves exactly %v",
					gw.Name, len(gw.K8s.Service.Ports), networkGatewayPorts)
			}
			for _, p := range gw.K8s.Service.Ports {
				if want, ok := networkGatewayPorts[p.Name]; !ok || want != p.Port || p.TargetPort != p.Port {
					return nil, fmt.Errorf("helm: gateway %s: port %s %d->%d is not one of the gateway chart's network gateway ports %v",
						gw.Name, p.Name, p.Port, p.TargetPort, networkGatewayPorts)
				}
			}
		}
	}
	values := map[string]any{
		"name":           gw.Name,
		"networkGateway": network,
		"labels":         labels,
		"service":        map[string]any{"type": "LoadBalancer"},
	}
	if len(env) > 0 {
		values["env"] = env
	}
	if rev := op.Spec.Revision; rev != "" {
		values["revision"] = rev // the gateway chart labels its pods istio.io/rev: the revision's injector injects them
	}
	if v := op.Spec.Values; v != nil {
		if v.Global != nil && v.Global.ImagePullPolicy != "" {
			values["imagePullPolicy"] = v.Global.ImagePullPolicy
		}
		if v.Gateways != nil && v.Gateways.IstioIngressgateway != nil && v.Gateways.IstioIngressgateway.InjectionTemplate != "" {
			values["podAnnotations"] = map[string]any{"inject.istio.io/templates": v.Gateways.IstioIngressgateway.InjectionTemplate}
		}
	}
	return []HelmRelease{{Name: gw.Name, Chart: ChartGateway, Values: values}}, nil
}

// toMap turns a struct into its JSON object form (an empty map for nil).
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("helm values: %w", err)
	}
	m := map[string]any{}
	if string(b) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("helm values: %w", err)
	}
	return m, nil
}

// ValuesYAML renders a release's values file.
func (r HelmRelease) ValuesYAML() ([]byte, error) {
	b, err := yaml.Marshal(r.Values)
	if err != nil {
		return nil, fmt.Errorf("render values of helm release %s: %w", r.Name, err)
	}
	return append([]byte("# Written by meshconform: values of the "+r.Chart+" chart, release "+r.Name+".\n"), b...), nil
}

// HelmValuesFile is where a release's values go: next to the IstioOperator they were translated from.
func HelmValuesFile(operatorFile string, r HelmRelease) string {
	return strings.TrimSuffix(operatorFile, filepath.Ext(operatorFile)) + ".helm-" + r.Chart + ".yaml"
}
