// Package installer puts Istio into clusters: the Installer interface and its three implementations, istioctl
// (`istioctl install` and `manifest generate`), helm (`helm upgrade --install` of Istio's charts, with the values
// framework/istio/render translates the IstioOperators into) and preinstalled (installs nothing, verifies what the
// user installed); Resolve, which fills an installer's defaults from the image kit and checks its tools once per
// command, before any cluster exists; FindHelmCharts; and FetchIstioctl, the checksum-verified, cached download of a
// released istioctl (--istio-version).
package installer
