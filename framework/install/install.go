// Package install puts the mesh on a provisioned environment: the images Istio and the workloads need, Istio itself
// (framework/istio, with the installer the command resolved once: Options.Istio.Resolved) and the test workloads
// (framework/workload). Like provisioning, each phase is timed and recorded in the environment file, and re-running
// it is harmless.
package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/meshconform/meshconform/framework/clusters"
	"github.com/meshconform/meshconform/framework/env"
	"github.com/meshconform/meshconform/framework/images"
	"github.com/meshconform/meshconform/framework/istio"
	"github.com/meshconform/meshconform/framework/kube"
	"github.com/meshconform/meshconform/framework/provision"
	"github.com/meshconform/meshconform/framework/steps"
	"github.com/meshconform/meshconform/framework/timeouts"
	"github.com/meshconform/meshconform/framework/topology"
	"github.com/meshconform/meshconform/framework/workload"
)

// Options configure Install.
type Options struct {
	Istio istio.Options
	Kit   *images.Kit
	Out   io.Writer
	// Timeouts: Workloads bounds the install's own wait; Istio's are Istio.Timeouts (zero: the defaults).
	Timeouts timeouts.Timeouts
}

// Install loads images (offline environments), installs Istio and deploys the test workloads.
func Install(ctx context.Context, t *topology.Topology, st *env.State, opts Options) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	var err error
	if opts.Timeouts, err = opts.Timeouts.WithDefaults(); err != nil {
		return err
	}
	if opts.Istio.Timeouts == (timeouts.Timeouts{}) {
		opts.Istio.Timeouts = opts.Timeouts // one set of budgets for the whole command
	}
	if opts.Istio.Out == nil {
		opts.Istio.Out = opts.Out
	}
	if opts.Istio.DataPlane == "" {
		opts.Istio.DataPlane = env.DataPlaneProxyless
	}
	r := steps.New("install", opts.Out, steps.WithSave(st.Save), steps.WithRecord(st.RecordPhase))
	logf := r.Logf
	phase := func(name string, fn func() error) error {
		return r.Run(ctx, steps.Step{Name: name, Run: func(context.Context) error { return fn() }})
	}

	// The test workloads' namespace is checked before Istio is installed: a cluster that holds someone else's is
	// refused before anything is written into it.
	if err := forEach(st, false, func(c *env.Cluster) error {
		kc, err := kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
		if err != nil {
			return err
		}
		return workload.CheckNamespace(ctx, kc, st.Name, workload.DefaultNamespace)
	}); err != nil {
		return err
	}

	workloadImage := ""
	if err := phase("mesh images", func() error {
		if opts.Kit == nil {
			return errors.New("no image kit")
		}
		if err := opts.Kit.Ensure(ctx, Artifacts(opts.Istio)...); err != nil {
			return err
		}
		workloadImage = opts.Kit.WorkloadImage()
		refs := []string{workloadImage}
		if kitIstio(opts.Istio) {
			opts.Istio.Hub, opts.Istio.Tag = images.IstioHub, images.IstioVersion
			refs = append(refs, images.PilotImage, images.ProxyV2Image)
		}
		var names []string
		for _, c := range st.Clusters {
			if c.Provisioned {
				names = append(names, c.KindName)
			}
		}
		n, err := clusters.LoadImagesInto(ctx, names, refs...)
		if err == nil && n == 0 && len(names) > 0 {
			logf("every node holds them already (%s)", strings.Join(refs, ", "))
		}
		return err
	}); err != nil {
		return err
	}
	if err := phase("istio", func() error { return istio.Install(ctx, t, st, opts.Istio) }); err != nil {
		return err
	}
	return phase("workloads", func() error {
		ns := workload.DefaultNamespace
		st.Mesh.Workloads = &env.Workloads{Namespace: ns, Image: workloadImage, Service: workload.DefaultService,
			Port: workload.DefaultPort, Versions: map[string]string{}}
		for i, c := range st.Clusters {
			st.Mesh.Workloads.Versions[c.Name] = workload.VersionFor(i)
		}
		return forEach(st, false, func(c *env.Cluster) error {
			kc, err := kube.New(c.Name, c.Access.Kubeconfig, c.Access.Context)
			if err != nil {
				return err
			}
			injection := st.Mesh.InjectionOf(c.Name)
			spec := workload.Spec{Namespace: ns, Image: workloadImage, Cluster: c.Name, Env: st.Name,
				Version: st.Mesh.Workloads.Versions[c.Name], DataPlane: opts.Istio.DataPlane,
				CrossNetwork: t.MultiNetwork(), Injection: injection}
			if err := workload.Deploy(ctx, kc, spec); err != nil {
				return err
			}
			// Proxyless gRPC has no auto-mTLS. Across networks calls must be mTLS (passed through the east-west
			// gateway), and servers labelled security.istio.io/tlsMode accept it: an ISTIO_MUTUAL DestinationRule in
			// every primary makes it the default there. On one network, servers without STRICT serve plaintext only,
			// so clients stay plaintext until a spec asks for mTLS.
			if spec.DataPlane == env.DataPlaneProxyless && spec.CrossNetwork && c.Role == topology.RolePrimary {
				if err := workload.ClientMTLS(ctx, kc, st.Name, ns, workload.Host(ns, workload.DefaultService)); err != nil {
					return err
				}
			}
			waitErr := workload.WaitReady(ctx, kc, ns, opts.Timeouts.Workloads)
			// The revision under test must be the one that injected them (its grpc-agent template, its istiod).
			problems, err := workload.CheckInjection(ctx, kc, ns, injection)
			if err != nil {
				return errors.Join(waitErr, err)
			}
			if len(problems) > 0 {
				return errors.Join(waitErr, fmt.Errorf("%s: the test workloads are not injected by revision %s (%s=%s): %s",
					c.Name, injection.Revision, injection.Label, injection.Value, strings.Join(problems, "; ")))
			}
			if waitErr != nil {
				return waitErr
			}
			logf("[%s] echo %s and client ready, injected by revision %s (%s=%s)", c.Name, spec.Version,
				injection.Revision, injection.Label, injection.Value)
			return nil
		})
	})
}

// OnInfra installs the mesh on infrastructure provision.Start left finishing: MetalLB starts while the mesh's images
// load and Istio installs, and only the steps that create a LoadBalancer Service wait for their cluster's MetalLB
// (istio.Options.LoadBalancers). It returns once both are done; a MetalLB failure is reported as MetalLB's, not as
// the step that waited for it, and an install failure stops MetalLB's background work.
func OnInfra(ctx context.Context, t *topology.Topology, inf *provision.Infra, opts Options) error {
	opts.Istio.LoadBalancers = inf.LoadBalancers
	if err := Install(ctx, t, inf.State, opts); err != nil {
		if errors.Is(err, provision.ErrMetalLB) {
			if werr := inf.Wait(); werr != nil {
				return werr
			}
		}
		inf.Stop()
		return err
	}
	return inf.Wait()
}

// Artifacts are the image kit's artifacts Install needs with these mesh options: the workload always, and the kit's
// Istio build unless the mesh runs other images. Build them before clusters exist (provision.Options.Prebuild).
func Artifacts(o istio.Options) []string {
	if kitIstio(o) {
		return []string{"workload", "istio"}
	}
	return []string{"workload"}
}

// kitIstio: without --hub/--tag the mesh runs the kit's Istio build, online or not: its images exist in no registry,
// so they are loaded into the nodes like the workload.
func kitIstio(o istio.Options) bool { return o.Hub == "" && o.Tag == "" && !o.InstallerImages }

// forEach runs fn for every cluster in parallel (provisionedOnly: skip bring-your-own clusters).
func forEach(st *env.State, provisionedOnly bool, fn func(*env.Cluster) error) error {
	var recs []*env.Cluster
	for i := range st.Clusters {
		if !provisionedOnly || st.Clusters[i].Provisioned {
			recs = append(recs, &st.Clusters[i])
		}
	}
	return steps.Each(recs, fn)
}
