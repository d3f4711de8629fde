package images

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/meshconform/meshconform"
	"github.com/meshconform/meshconform/fixtures"
)

const (
	MetalLBVersion = "v0.15.2"
	// IstioModuleVersion is the only istio.io/istio version the module proxy here serves (the 1.31 development line).
	IstioModuleVersion = "v0.0.0-20260827124520-eed52ebb66ad"
	// IstioVersion is what the built istioctl and istiod report; the image tag too.
	IstioVersion = "1.31-alpha.eed52ebb66ad"
	// IstioHub is where the kit's Istio images are named.
	IstioHub = "meshconform.io/istio"
)

var (
	MetalLBControllerImage = "quay.io/metallb/controller:" + MetalLBVersion
	MetalLBSpeakerImage    = "quay.io/metallb/speaker:" + MetalLBVersion
	PilotImage             = IstioHub + "/pilot:" + IstioVersion
	ProxyV2Image           = IstioHub + "/proxyv2:" + IstioVersion
)

// WorkloadImage is the reference of the test workload image for the kit's current sources.
func (k *Kit) WorkloadImage() string { return workloadRepo + ":" + k.Stamp("workload")[:12] }

const workloadRepo = "meshconform.io/workload"

// MetalLBManifest is the path of MetalLB's native install manifest, taken from the pinned module.
func (k *Kit) MetalLBManifest() string {
	return filepath.Join(k.opts.CacheDir, "manifests", "metallb-native-"+MetalLBVersion+".yaml")
}

// Istioctl is the path of the istioctl built with the kit's Istio images.
func (k *Kit) Istioctl() string { return k.bin("istio", "istioctl") }

const istioLdflags = "-X istio.io/istio/pkg/version.buildVersion=" + IstioVersion +
	" -X istio.io/istio/pkg/version.buildGitRevision=eed52ebb66ad" +
	" -X istio.io/istio/pkg/version.buildTag=" + IstioVersion +
	" -X istio.io/istio/pkg/version.buildHub=" + IstioHub +
	" -X istio.io/istio/pkg/version.buildStatus=Clean -X istio.io/istio/pkg/version.buildOS=linux" +
	" -X istio.io/istio/pkg/version.buildArch=amd64"

func init() {
	binArtifact(goModule{name: "metallb", packages: []string{"go.universe.tf/metallb/controller",
		"go.universe.tf/metallb/speaker"}}, "MetalLB "+MetalLBVersion+" controller and speaker")
	binArtifact(goModule{name: "istio", ldflags: istioLdflags, packages: []string{
		"istio.io/istio/istioctl/cmd/istioctl", "istio.io/istio/pilot/cmd/pilot-discovery",
		"istio.io/istio/pilot/cmd/pilot-agent"}}, "Istio "+IstioVersion+" istioctl, pilot-discovery, pilot-agent")

	register(&artifact{
		name:  "metallb-manifest",
		title: "MetalLB " + MetalLBVersion + " native install manifest, from the pinned module",
		stamp: func(*Kit) string { return newHasher("metallb-manifest-1", MetalLBVersion).sum() },
		present: func(_ context.Context, k *Kit, stamp string) bool {
			return fileStampMatches(k.MetalLBManifest(), stamp)
		},
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			dir, err := moduleDir(ctx, "go.universe.tf/metallb", MetalLBVersion)
			if err != nil {
				return err
			}
			if err := copyFile(filepath.Join(dir, "config/manifests/metallb-native.yaml"), k.MetalLBManifest(), 0o644); err != nil {
				return fmt.Errorf("copy MetalLB manifest: %w", err)
			}
			return writeStamp(k.MetalLBManifest(), stamp)
		},
	})

	register(&artifact{
		name:    "metallb",
		title:   "MetalLB " + MetalLBVersion + " controller and speaker images, install manifest",
		deps:    []string{"bin-metallb", "metallb-manifest"},
		stamp:   func(*Kit) string { return newHasher("metallb-images-1").sum() },
		present: imagesPresent(MetalLBControllerImage, MetalLBSpeakerImage),
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			label := map[string]string{"io.meshconform.source": "go.universe.tf/metallb@" + MetalLBVersion}
			for _, c := range []string{"controller", "speaker"} {
				spec := imageSpec{Ref: "quay.io/metallb/" + c + ":" + MetalLBVersion, Entrypoint: []string{"/" + c},
					Labels: label}
				if err := staticImage(ctx, log, k.buildDir(), map[string]string{c: k.bin("metallb", c)}, spec, stamp); err != nil {
					return err
				}
			}
			return nil
		},
		public: true,
	})

	register(&artifact{
		name:  "istio",
		title: "Istio " + IstioVersion + " pilot and proxyv2 (pilot-agent only, no Envoy) images, istioctl",
		deps:  []string{"bin-istio"},
		stamp: func(*Kit) string { return newHasher("istio-images-1").sum() },
		present: func(ctx context.Context, k *Kit, stamp string) bool {
			return fileStampMatches(k.Istioctl(), stamp) && imagesPresent(PilotImage, ProxyV2Image)(ctx, k, stamp)
		},
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			path := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
			src := map[string]string{"io.meshconform.source": "istio.io/istio@" + IstioModuleVersion}
			// istiod's Deployment sets runAsNonRoot: the image must say which non-root user it runs as.
			pilot := imageSpec{Ref: PilotImage, Env: path, User: "1337:1337",
				Entrypoint: []string{"/usr/local/bin/pilot-discovery"}, Labels: src}
			if err := staticImage(ctx, log, k.buildDir(), map[string]string{
				"usr/local/bin/pilot-discovery": k.bin("istio", "pilot-discovery")}, pilot, stamp); err != nil {
				return err
			}
			proxyLabels := map[string]string{"io.meshconform.source": "istio.io/istio@" + IstioModuleVersion,
				EnvoyLabel: proxyEnvoyLabel}
			proxy := imageSpec{Ref: ProxyV2Image, Env: path, Entrypoint: []string{"/usr/local/bin/pilot-agent"},
				Labels: proxyLabels}
			if err := staticImage(ctx, log, k.buildDir(), map[string]string{
				"usr/local/bin/pilot-agent": k.bin("istio", "pilot-agent")}, proxy, stamp); err != nil {
				return err
			}
			return writeStamp(k.Istioctl(), stamp)
		},
		public: true,
	})

	register(&artifact{
		name:  "workload",
		title: "meshconform test workload image (static binary, no base image)",
		deps:  []string{"bin-workload"},
		stamp: func(*Kit) string { return newHasher("workload-image-1").sum() },
		present: func(ctx context.Context, k *Kit, stamp string) bool {
			return imageStamp(ctx, k.WorkloadImage()) == stamp
		},
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			spec := imageSpec{Ref: k.WorkloadImage(), Entrypoint: []string{"/workload"}}
			if err := staticImage(ctx, log, k.buildDir(), map[string]string{"workload": k.bin("workload", "workload")}, spec, stamp); err != nil {
				return err
			}
			// Each source change makes a new tag; superseded ones would pile up.
			out, err := output(ctx, log, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}", workloadRepo)
			if err != nil {
				return nil
			}
			for _, ref := range strings.Fields(out) {
				if ref != k.WorkloadImage() {
					_ = run(ctx, log, "", nil, "docker", "rmi", ref)
				}
			}
			return nil
		},
		public: true,
	})
}

func (k *Kit) buildDir() string { return filepath.Join(k.opts.CacheDir, "build") }

// fixtureModule returns a copy of this module reduced to the named fixture programs' sources.
func fixtureModule(programs ...string) func() (map[string]string, error) {
	return func() (map[string]string, error) {
		files := map[string]string{"go.mod": meshconform.GoMod, "go.sum": meshconform.GoSum}
		for _, prog := range programs {
			err := fs.WalkDir(fixtures.Sources, prog, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := fs.ReadFile(fixtures.Sources, p)
				files["fixtures/"+p] = string(b)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("fixture %s: %w", prog, err)
			}
		}
		return files, nil
	}
}
