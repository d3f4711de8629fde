// Package render renders, without touching a cluster or the file system, what meshconform installs for Istio: the
// IstioOperators of each cluster's role (ControlPlaneOperator, EastWestOperator), the Helm releases and values of
// Istio's charts that install the same (HelmReleases, ValuesYAML), the Istio networking objects and Services of the
// multicluster guides (CrossNetworkGateway, IstiodGateway, IstiodVirtualService, IstiodLoadBalancer), and the names,
// ports and labels of all of them (Namespace, NetworkLabel, EastWestGatewayName, PortTLS, ...).
//
// The install plan (Plan, Step, NeedsEastWestGateway) is here too: it is as pure as the rest, a function of the
// topology, and it decides which of these objects a cluster gets; the golden files render exactly the gateways the
// plan installs. framework/istio runs the plan; framework/istio/installer applies what is rendered here.
//
// Everything rendered is compared with golden files under testdata/ (operators/ and helm/, one directory per
// built-in topology). After an intended change, rewrite them and review the diff:
//
//	go test ./framework/istio/render/ -run Golden -update
package render
