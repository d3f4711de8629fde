package images

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshconform/meshconform/fixtures"
)

// Versions of what the node image holds. KindVersion must match sigs.k8s.io/kind in go.mod (a test checks).
const (
	KubernetesVersion = "v1.34.2"
	KindVersion       = "v0.33.0"
	etcdImageTag      = "3.6.5-0"
	corednsImageTag   = "v1.12.1"
	pauseImageTag     = "3.10.1"
	// CNIImage is the image the CNI manifest in fixtures/ names; it is preloaded in the node image.
	CNIImage = "meshconform.io/cni:v1"
)

// NodeImage is the kind node image the kit builds.
var NodeImage = "meshconform.io/kind-node:" + KubernetesVersion

const k8sLdflags = "-X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34" +
	" -X k8s.io/component-base/version.gitTreeState=clean" +
	" -X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=34"

var kubeCommands = []string{"kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager",
	"kube-scheduler", "kube-proxy"}

func init() {
	var pkgs []string
	for _, c := range kubeCommands {
		pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+c)
	}
	binArtifact(goModule{name: "kubernetes", ldflags: k8sLdflags, packages: pkgs}, "Kubernetes "+KubernetesVersion+" binaries")
	binArtifact(goModule{name: "etcd", packages: []string{"."}, files: map[string]string{"main.go": etcdMain}}, "etcd v3.6.5")
	binArtifact(goModule{name: "coredns", packages: []string{"github.com/coredns/coredns"}}, "CoreDNS "+corednsImageTag)
	// cri-tools is not in the checksum database the proxy mirrors; go.sum pins it instead.
	binArtifact(goModule{name: "crictl", packages: []string{"sigs.k8s.io/cri-tools/cmd/crictl"},
		env: []string{"GONOSUMDB=sigs.k8s.io/cri-tools"}}, "crictl v1.34.0")
	// The node's own programs and the test workload are separate artifacts, so changing the workload does not
	// rebuild the node image.
	binArtifact(goModule{name: "node-fixtures", source: fixtureModule("cni", "pause"),
		packages: []string{"./fixtures/cni", "./fixtures/pause"}}, "meshconform's own CNI and pause")
	binArtifact(goModule{name: "workload", source: fixtureModule("workload"),
		packages: []string{"./fixtures/workload"}}, "meshconform's test workload")

	register(&artifact{
		name:  "node",
		title: "kind node image " + NodeImage + " (Kubernetes " + KubernetesVersion + ", images preloaded)",
		deps:  []string{"rootfs", "bin-kubernetes", "bin-etcd", "bin-coredns", "bin-crictl", "bin-node-fixtures", "metallb"},
		stamp: func(*Kit) string {
			return newHasher("node", nodeRecipe, KindVersion, fixtures.CNIManifest, storageManifest).sum()
		},
		present: imagesPresent(NodeImage),
		build:   buildNode,
		public:  true,
	})
}

// NodeMeshImage is the node image with the mesh's images preloaded too (the kit's Istio pilot and proxyv2, and the
// test workload): an offline environment whose mesh runs the kit's build starts its nodes with them, instead of
// copying 190 MB into every node after the clusters are up (the longest step left on `up`'s critical path, 9-24 s).
var NodeMeshImage = "meshconform.io/kind-node-mesh:" + KubernetesVersion

func init() {
	register(&artifact{
		name:    "node-mesh",
		title:   "kind node image " + NodeMeshImage + " (the node image with Istio's and the workload's images preloaded)",
		deps:    []string{"node", "istio", "workload"},
		stamp:   func(*Kit) string { return newHasher("node-mesh", nodeRecipe).sum() },
		present: imagesPresent(NodeMeshImage),
		build: func(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
			work, err := os.MkdirTemp(filepath.Join(k.opts.CacheDir, "build"), "node-mesh-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			archive := filepath.Join(work, "images.tar")
			if err := run(ctx, log, "", nil, "docker", "save", "-o", archive, PilotImage, ProxyV2Image, k.WorkloadImage()); err != nil {
				return fmt.Errorf("save mesh images: %w", err)
			}
			return preload(ctx, log, NodeImage, archive, stamp, NodeMeshImage)
		},
		public: true,
	})
}

// MeshPreloaded are the images NodeMeshImage holds beyond NodeImage.
func (k *Kit) MeshPreloaded() []string { return []string{PilotImage, ProxyV2Image, k.WorkloadImage()} }

// nodeRecipe names the recipe's revision: bump it when buildNode changes in a way the inputs do not show.
const nodeRecipe = "node-recipe-2"

const etcdMain = `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`

// storageManifest is a host-path StorageClass, kind's legacy default: the local-path provisioner image is not
// available here, and no meshconform spec needs volumes.
const storageManifest = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
`

func buildNode(ctx context.Context, k *Kit, stamp string, log io.Writer) error {
	work, err := os.MkdirTemp(filepath.Join(k.opts.CacheDir, "build"), "node-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// 1. Component images, saved to one archive for the node's containerd.
	archive := filepath.Join(work, "images.tar")
	refs, err := k.componentImages(ctx, log, work, stamp)
	if err != nil {
		return err
	}
	// MetalLB is installed in every environment: preloading it saves loading it into each node on every `up`.
	preloaded := append(append([]string{}, refs...), MetalLBControllerImage, MetalLBSpeakerImage)
	if err := run(ctx, log, "", nil, "docker", append([]string{"save", "-o", archive}, preloaded...)...); err != nil {
		return fmt.Errorf("save component images: %w", err)
	}
	// They live on in the node image only; the host keeps no images named like upstream's.
	_ = run(ctx, log, "", nil, "docker", append([]string{"rmi"}, refs...)...)

	// 2. The node's root filesystem.
	root := filepath.Join(work, "rootfs")
	if err := run(ctx, log, "", nil, "cp", "-a", k.rootfsDir(), root); err != nil {
		return fmt.Errorf("copy rootfs: %w", err)
	}
	if err := k.prepareNodeRoot(ctx, log, root); err != nil {
		return err
	}
	base := "meshconform.io/kind-node-base:build"
	if err := importDir(ctx, log, root, imageSpec{Ref: base, Env: []string{"container=docker"},
		Entrypoint: []string{"/usr/local/bin/entrypoint", "/sbin/init"}}, "base-"+stamp); err != nil {
		return err
	}
	defer func() { _ = run(context.WithoutCancel(ctx), log, "", nil, "docker", "rmi", base) }()
	return preload(ctx, log, base, archive, stamp, NodeImage)
}

// componentImages builds the control-plane, CNI and pause images with the names kubeadm and our manifests expect.
func (k *Kit) componentImages(ctx context.Context, log io.Writer, work, stamp string) ([]string, error) {
	kb := func(b string) string { return k.bin("kubernetes", b) }
	path := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	label := map[string]string{"io.meshconform.note": "built from Go sources by meshconform, not the upstream image"}
	type img struct {
		spec imageSpec
		bins map[string]string
		libs []string // binaries (with their libraries) taken from the Debian rootfs
	}
	var imgs []img
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		imgs = append(imgs, img{spec: imageSpec{Ref: "registry.k8s.io/" + c + ":" + KubernetesVersion, Env: path,
			Entrypoint: []string{"/usr/local/bin/" + c}}, bins: map[string]string{"usr/local/bin/" + c: kb(c)}})
	}
	iptables := []string{"/usr/sbin/xtables-nft-multi", "/usr/sbin/conntrack", "/usr/sbin/ip"}
	imgs = append(imgs,
		img{spec: imageSpec{Ref: "registry.k8s.io/kube-proxy:" + KubernetesVersion, Env: path,
			Entrypoint: []string{"/usr/local/bin/kube-proxy"}},
			bins: map[string]string{"usr/local/bin/kube-proxy": kb("kube-proxy")}, libs: iptables},
		img{spec: imageSpec{Ref: "registry.k8s.io/etcd:" + etcdImageTag, Env: path,
			Entrypoint: []string{"/usr/local/bin/etcd"}},
			bins: map[string]string{"usr/local/bin/etcd": k.bin("etcd", "etcd")}},
		img{spec: imageSpec{Ref: "registry.k8s.io/coredns/coredns:" + corednsImageTag, Env: path,
			Entrypoint: []string{"/coredns"}}, bins: map[string]string{"coredns": k.bin("coredns", "coredns")}},
		img{spec: imageSpec{Ref: "registry.k8s.io/pause:" + pauseImageTag, Entrypoint: []string{"/pause"}},
			bins: map[string]string{"pause": k.bin("node-fixtures", "pause")}},
		img{spec: imageSpec{Ref: CNIImage, Env: path, Entrypoint: []string{"/cni"}},
			bins: map[string]string{"cni": k.bin("node-fixtures", "cni")}, libs: iptables},
	)
	var refs []string
	for _, im := range imgs {
		dir, err := os.MkdirTemp(work, "img-")
		if err != nil {
			return nil, err
		}
		if len(im.libs) > 0 {
			if err := copyWithLibs(k.rootfsDir(), dir, im.libs...); err != nil {
				return nil, fmt.Errorf("%s: %w", im.spec.Ref, err)
			}
			if err := iptablesLinks(k.rootfsDir(), dir); err != nil {
				return nil, fmt.Errorf("%s: %w", im.spec.Ref, err)
			}
		}
		if err := baseFiles(dir, filepath.Join(k.rootfsDir(), "etc/ssl/certs/ca-certificates.crt")); err != nil {
			return nil, err
		}
		for dst, src := range im.bins {
			if err := copyFile(src, filepath.Join(dir, dst), 0o755); err != nil {
				return nil, fmt.Errorf("%s: copy %s: %w", im.spec.Ref, src, err)
			}
		}
		im.spec.Labels = label
		if err := importDir(ctx, log, dir, im.spec, stamp); err != nil {
			return nil, err
		}
		_ = os.RemoveAll(dir)
		refs = append(refs, im.spec.Ref)
	}
	return refs, nil
}

// iptablesLinks adds the iptables-nft command names (all one multi-call binary) and the extension modules it dlopens.
func iptablesLinks(rootfs, dir string) error {
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
		"ip6tables-restore", "iptables-nft", "iptables-nft-save", "iptables-nft-restore", "ip6tables-nft",
		"ip6tables-nft-save", "ip6tables-nft-restore"} {
		p := filepath.Join(dir, "usr/sbin", n)
		_ = os.Remove(p)
		if err := os.Symlink("xtables-nft-multi", p); err != nil {
			return err
		}
	}
	ext := "/usr/lib/x86_64-linux-gnu/xtables"
	entries, err := os.ReadDir(filepath.Join(rootfs, ext))
	if err != nil {
		return fmt.Errorf("iptables extensions: %w", err)
	}
	var mods []string
	for _, e := range entries {
		mods = append(mods, ext+"/"+e.Name())
	}
	return copyWithLibs(rootfs, dir, mods...)
}

// prepareNodeRoot turns a Debian rootfs into a kind node: kind's own node files from the pinned kind module, the
// systemd adjustments of kind's base image, Kubernetes binaries, and our CNI and storage manifests.
func (k *Kit) prepareNodeRoot(ctx context.Context, log io.Writer, root string) error {
	kindDir, err := moduleDir(ctx, "sigs.k8s.io/kind", KindVersion)
	if err != nil {
		return err
	}
	files := filepath.Join(kindDir, "images/base/files")
	err = filepath.WalkDir(files, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(files, p)
		if strings.HasPrefix(rel, "LICENSES") {
			return nil
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(rel, "usr/local/bin/") || strings.HasPrefix(rel, "kind/bin/") {
			mode = 0o755
		}
		return copyFile(p, filepath.Join(root, rel), mode)
	})
	if err != nil {
		return fmt.Errorf("copy kind node files: %w", err)
	}

	cfgPath := filepath.Join(root, "etc/containerd/config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	c := strings.Replace(string(cfg), `sandbox_image = "registry.k8s.io/pause:3.10"`,
		`sandbox_image = "registry.k8s.io/pause:`+pauseImageTag+`"`, 1)
	// Without this, containerd's negative oom_score_adj fails every sandbox on machines like ours.
	c = strings.Replace(c, "restrict_oom_score_adj = false", "restrict_oom_score_adj = true", 1)
	if !strings.Contains(c, pauseImageTag) || !strings.Contains(c, "restrict_oom_score_adj = true") {
		return fmt.Errorf("kind's containerd config changed shape: cannot set sandbox_image/restrict_oom_score_adj")
	}
	if err := os.WriteFile(cfgPath, []byte(c), 0o644); err != nil {
		return err
	}

	for _, glob := range []string{"lib/systemd/system/multi-user.target.wants/*", "etc/systemd/system/*.wants/*",
		"lib/systemd/system/local-fs.target.wants/*", "lib/systemd/system/sockets.target.wants/*udev*",
		"lib/systemd/system/sockets.target.wants/*initctl*", "lib/systemd/system/basic.target.wants/*",
		"lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service"} {
		matches, _ := filepath.Glob(filepath.Join(root, "usr", glob))
		m2, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range append(matches, m2...) {
			_ = os.Remove(m)
		}
	}
	jf, err := os.OpenFile(filepath.Join(root, "etc/systemd/journald.conf"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintln(jf, "ReadKMsg=no")
	jf.Close()
	if err := run(ctx, log, "", nil, "chroot", root, "systemctl", "enable", "kubelet.service", "containerd.service",
		"undo-mount-hacks.service"); err != nil {
		return fmt.Errorf("enable node services: %w", err)
	}
	if err := run(ctx, log, "", nil, "chroot", root, "systemctl", "mask", "systemd-binfmt.service"); err != nil {
		return fmt.Errorf("mask binfmt: %w", err)
	}
	links := map[string]string{
		"usr/local/bin/containerd": "/usr/bin/containerd", // kind's containerd.service runs /usr/local/bin/containerd
		"opt/cni/bin":              "/usr/lib/cni",        // Debian's CNI plugins live in /usr/lib/cni
	}
	for l, target := range links {
		p := filepath.Join(root, l)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.RemoveAll(p)
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755); err != nil {
		return err
	}

	spec, err := output(ctx, log, "chroot", root, "ctr", "oci", "spec")
	if err != nil {
		return fmt.Errorf("generate cri-base.json: %w", err)
	}
	criBase, err := criBaseSpec([]byte(spec))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/containerd/cri-base.json"), criBase, 0o644); err != nil {
		return err
	}

	for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
		if err := copyFile(k.bin("kubernetes", b), filepath.Join(root, "usr/bin", b), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(k.bin("crictl", "crictl"), filepath.Join(root, "usr/local/bin/crictl"), 0o755); err != nil {
		return err
	}
	return writeFiles(root, map[string]string{
		"kind/version":                        KubernetesVersion,
		"kind/manifests/default-cni.yaml":     fixtures.CNIManifest,
		"kind/manifests/default-storage.yaml": storageManifest,
	}, 0o644)
}

// criBaseSpec mirrors kind's base image: the default OCI spec plus kind's product-files hook, without rlimits.
func criBaseSpec(raw []byte) ([]byte, error) {
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("parse ctr oci spec: %w", err)
	}
	hooks, _ := spec["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
		spec["hooks"] = hooks
	}
	cc, _ := hooks["createContainer"].([]any)
	hooks["createContainer"] = append(cc, map[string]any{"path": "/kind/bin/mount-product-files.sh"})
	if p, ok := spec["process"].(map[string]any); ok {
		delete(p, "rlimits")
	}
	return json.MarshalIndent(spec, "", "  ")
}

// preload starts the base image with containerd running inside, imports the archive's images the way kind's node
// image builder does (pinned, not unpacked), and commits the result as target.
func preload(ctx context.Context, log io.Writer, base, archive, stamp, target string) error {
	name := fmt.Sprintf("meshconform-node-build-%d", time.Now().UnixNano())
	if err := run(ctx, log, "", nil, "docker", "run", "-d", "--privileged", "--name", name,
		"--label", "io.meshconform.build=node", "--entrypoint=sleep", base, "infinity"); err != nil {
		return fmt.Errorf("start build container: %w", err)
	}
	defer func() { _ = run(context.WithoutCancel(ctx), log, "", nil, "docker", "rm", "-f", name) }()
	exec := func(args ...string) error {
		return run(ctx, log, "", nil, "docker", append([]string{"exec", name}, args...)...)
	}
	if err := run(ctx, log, "", nil, "docker", "cp", archive, name+":/images.tar"); err != nil {
		return fmt.Errorf("copy images into build container: %w", err)
	}
	if err := exec("sh", "-c", "containerd >/var/log/containerd-build.log 2>&1 &"); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	var ready error
	for i := 0; i < 60; i++ {
		if ready = exec("ctr", "version"); ready == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ready != nil {
		return fmt.Errorf("containerd in build container did not start: %w", ready)
	}
	// Not unpacked: the build container's containerd runs on docker's overlay, where its overlayfs snapshotter cannot;
	// a node unpacks an image when it first runs it.
	if err := exec("ctr", "-n", "k8s.io", "images", "import", "--label=io.cri-containerd.pinned=pinned",
		"--all-platforms", "--no-unpack", "--digests", "/images.tar"); err != nil {
		return fmt.Errorf("import images into node containerd: %w", err)
	}
	// PID 1 here is sleep, which never reaps: a stopped containerd stays a zombie, so wait for state Z, not absence.
	if err := exec("sh", "-c", `pid=$(pidof containerd) && kill $pid && `+
		`while [ -e /proc/$pid ] && ! grep -q '^[0-9]* ([^)]*) Z' /proc/$pid/stat; do sleep 0.2; done; `+
		`rm -f /images.tar /var/log/containerd-build.log`); err != nil {
		return fmt.Errorf("stop containerd: %w", err)
	}
	spec := imageSpec{Entrypoint: []string{"/usr/local/bin/entrypoint", "/sbin/init"}, Env: []string{"container=docker"},
		Labels: map[string]string{"io.meshconform.kubernetes-version": KubernetesVersion,
			"io.meshconform.note": "offline kind node image: Debian " + debianSuite +
				" packages, Kubernetes from Go sources, meshconform's own CNI (kindnetd is not available)"}}
	args := []string{"commit"}
	for _, c := range spec.changes(stamp) {
		args = append(args, "--change", c)
	}
	return replacing(ctx, log, target, func() error {
		if err := run(ctx, log, "", nil, "docker", append(args, name, target)...); err != nil {
			return fmt.Errorf("commit node image: %w", err)
		}
		return nil
	})
}
