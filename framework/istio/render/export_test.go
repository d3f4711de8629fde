package render

// For the external tests (helm_template_test.go, which needs installer.FindHelmCharts and so cannot be in package
// render): the fixtures of the golden tests.
var (
	BuiltinNames        = builtinNames
	MustBuiltin         = mustBuiltin
	NetworkGatewayPorts = networkGatewayPorts
)

const (
	TestHub                   = testHub
	TestTag                   = testTag
	TestRemotePilot           = testRemotePilot
	IstiodCPURequest          = istiodCPURequest
	EastWestInjectionTemplate = eastWestInjectionTemplate
)
