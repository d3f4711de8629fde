package istio

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/istio/istiod"
)

// discover reads the istiod revisions and injectors a cluster runs, chooses how its test workloads are injected (the
// revision or tag the user named, else istiod.Revisions.Choose's rule: the default, else the only revision) and
// records both in the environment: the injection, and every istiod with the version it reports.
func (r *run) discover(ctx context.Context, name string, primary bool) (istiod.Target, error) {
	c := r.clients[name]
	revs, err := istiod.ReadRevisions(ctx, c)
	if err != nil {
		return istiod.Target{}, err
	}
	tgt, note, err := revs.Choose(name, r.opts.Revision, primary)
	if err != nil {
		if r.opts.Revision != "" {
			return tgt, fmt.Errorf("--revision %s: %w", r.opts.Revision, err)
		}
		return tgt, err
	}
	if note != "" {
		r.note(note)
		r.steps.Logf("%s", note)
	}
	var istiods []env.Istiod
	for _, cp := range revs.ControlPlanes {
		v := istiod.RunningVersion(ctx, c, cp.Revision)
		if v == "" {
			v = cp.ImageTag
		}
		istiods = append(istiods, env.Istiod{Revision: cp.Revision, Deployment: cp.Deployment, Version: v, Tags: cp.Tags})
	}
	r.mesh(name, func(mc *env.MeshCluster) {
		mc.Injection = &env.Injection{Label: tgt.Label, Value: tgt.Value, Revision: tgt.Revision, Tag: tgt.Tag, Webhook: tgt.Injector}
		mc.Istiods = istiods
	})
	return tgt, nil
}

// checkRemoteRevision fails when a remote's workloads would be injected for a revision its primary runs no istiod
// of: the webhook would call an istiod that is not there (or another revision's), and nothing would configure them.
func (r *run) checkRemoteRevision(name, primary string) error {
	in := r.injection(name)
	pm := r.meshCluster(primary)
	var have []string
	for _, d := range pm.Istiods {
		if d.Revision == in.Revision {
			return nil
		}
		have = append(have, d.Revision+" ("+d.Deployment+")")
	}
	if len(pm.Istiods) == 0 {
		return nil // nothing recorded to compare with (an environment from before revisions)
	}
	slices.Sort(have)
	return fmt.Errorf("%s: its injector %s injects for revision %s, but its primary %s runs istiod revision %s: label "+
		"the test namespaces for a revision both run (--revision), or install revision %s in %s",
		name, in.Webhook, in.Revision, primary, strings.Join(have, ", "), in.Revision, primary)
}
