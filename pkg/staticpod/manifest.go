// Package staticpod runs etcd members as kubeadm's static pods: each
// member is a Pod manifest in the kubelet's staticPodPath
// (/etc/kubernetes/manifests/etcd.yaml), and the kubelet starts, restarts
// and stops the pod when the file appears, changes or goes away.
package staticpod

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/etcdpilot/etcdpilot/pkg/runtime"
	"github.com/etcdpilot/etcdpilot/pkg/version"
)

// RestartedAt is the annotation etcdpilot changes on every manifest it
// writes: the kubelet keys a static pod by a hash of its manifest, so an
// identical manifest written again would keep the old pod and its crash
// back-off.
const RestartedAt = "etcdpilot.io/restarted-at"

// Manifest is a member's static pod and the etcd container in it.
type Manifest struct {
	Pod *corev1.Pod
	// File names the manifest in errors.
	File string
}

// Parse reads a manifest and checks that it is a Pod with an etcd
// container whose image tag is an etcd version.
func Parse(file string, data []byte) (*Manifest, error) {
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		return nil, fmt.Errorf("%s is not a Pod manifest: %w", file, err)
	}
	if pod.Kind != "Pod" {
		return nil, fmt.Errorf("%s is not a Pod manifest (kind %q): an etcd static pod manifest has kind: Pod", file, pod.Kind)
	}
	m := &Manifest{Pod: &pod, File: file}
	c := m.container()
	if c == nil {
		return nil, fmt.Errorf("%s has no etcd container (a container named etcd, or one whose command runs etcd)", file)
	}
	if _, _, _, err := m.image(); err != nil {
		return nil, err
	}
	return m, nil
}

// container is the etcd container: named etcd, or the first whose command
// runs etcd.
func (m *Manifest) container() *corev1.Container {
	cs := m.Pod.Spec.Containers
	for i := range cs {
		if cs[i].Name == "etcd" {
			return &cs[i]
		}
	}
	for i := range cs {
		if len(cs[i].Command) > 0 && path.Base(cs[i].Command[0]) == "etcd" {
			return &cs[i]
		}
	}
	return nil
}

// tagPattern is an etcd image tag: a version with kubeadm's build suffix
// (3.5.21-0) or without one, with or without a leading v.
var tagPattern = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(-\d+)?$`)

// image splits the container's image into repository, etcd version and
// build suffix ("registry.k8s.io/etcd", "3.5.21", "-0").
func (m *Manifest) image() (repo, ver, suffix string, err error) {
	img := m.container().Image
	if at := strings.Index(img, "@"); at >= 0 {
		img = img[:at]
	}
	colon := strings.LastIndex(img, ":")
	if colon < 0 || strings.Contains(img[colon:], "/") {
		return "", "", "", fmt.Errorf("%s: image %q has no tag: etcdpilot reads the member's etcd version from it (registry.k8s.io/etcd:3.5.21-0)", m.File, m.container().Image)
	}
	tag := img[colon+1:]
	g := tagPattern.FindStringSubmatch(tag)
	if g == nil {
		return "", "", "", fmt.Errorf("%s: image tag %q is not an etcd version (want a tag like 3.5.21-0)", m.File, tag)
	}
	return img[:colon], g[1], g[2], nil
}

// Version is the etcd version the manifest's image runs.
func (m *Manifest) Version() string {
	_, v, _, _ := m.image()
	return v
}

// Image is the manifest's image reference.
func (m *Manifest) Image() string { return m.container().Image }

// SetVersion points the image at another etcd version, keeping the
// repository (or using repo when set) and kubeadm's build suffix.
func (m *Manifest) SetVersion(v, repo string) {
	r, _, suffix, _ := m.image()
	if repo != "" {
		r = repo
	}
	if suffix == "" {
		suffix = "-0"
	}
	m.container().Image = r + ":" + version.Plain(v) + suffix
}

// Flags are the etcd container's flags (its command after etcd, then
// its args).
func (m *Manifest) Flags() []string {
	c := m.container()
	var out []string
	if len(c.Command) > 1 {
		out = append(out, c.Command[1:]...)
	}
	return append(out, c.Args...)
}

// RenameFlags applies the catalog's flag renames to the command and the
// args.
func (m *Manifest) RenameFlags(renames map[string]string) {
	c := m.container()
	if len(c.Command) > 1 {
		c.Command = append([]string{c.Command[0]}, runtime.RenameFlags(c.Command[1:], renames)...)
	}
	if len(c.Args) > 0 {
		c.Args = runtime.RenameFlags(c.Args, renames)
	}
}

// SetFlag sets --name=value in the etcd container's command (or its args,
// where kubeadm keeps none in the command), replacing the flag where it
// is.
func (m *Manifest) SetFlag(name, value string) {
	c := m.container()
	set := func(fs []string) ([]string, bool) {
		for i, f := range fs {
			if f == "--"+name || strings.HasPrefix(f, "--"+name+"=") {
				if f == "--"+name && i+1 < len(fs) && !strings.HasPrefix(fs[i+1], "-") {
					fs = append(fs[:i+1], fs[i+2:]...)
				}
				fs[i] = "--" + name + "=" + value
				return fs, true
			}
		}
		return fs, false
	}
	var ok bool
	if c.Command, ok = set(c.Command); ok {
		return
	}
	if c.Args, ok = set(c.Args); ok {
		return
	}
	if len(c.Command) > 1 || len(c.Args) == 0 {
		c.Command = append(c.Command, "--"+name+"="+value)
		return
	}
	c.Args = append(c.Args, "--"+name+"="+value)
}

// Flag returns a flag's value (--name=x or --name x), "" when unset.
func (m *Manifest) Flag(name string) string {
	fs := m.Flags()
	for i, f := range fs {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
		if f == "--"+name && i+1 < len(fs) && !strings.HasPrefix(fs[i+1], "-") {
			return fs[i+1]
		}
	}
	return ""
}

// HostPath maps a path inside the etcd container to the host through the
// pod's hostPath volumes (the data directory, the certificates).
func (m *Manifest) HostPath(p string) (string, error) {
	vols := map[string]string{}
	for _, v := range m.Pod.Spec.Volumes {
		if v.HostPath != nil {
			vols[v.Name] = v.HostPath.Path
		}
	}
	best, host := "", ""
	for _, vm := range m.container().VolumeMounts {
		hp, ok := vols[vm.Name]
		mp := strings.TrimSuffix(vm.MountPath, "/")
		if !ok || (p != mp && !strings.HasPrefix(p, mp+"/")) || len(mp) <= len(best) {
			continue
		}
		best, host = mp, path.Join(hp, strings.TrimPrefix(p, mp))
	}
	if best == "" {
		return "", fmt.Errorf("%s: %s is not on a hostPath volume of the etcd container", m.File, p)
	}
	return host, nil
}

// Stamp sets the annotation that makes the kubelet see a new pod.
func (m *Manifest) Stamp(at string) {
	if m.Pod.Annotations == nil {
		m.Pod.Annotations = map[string]string{}
	}
	m.Pod.Annotations[RestartedAt] = at
}

// Marshal writes the manifest as kubeadm does (YAML of the Pod).
func (m *Manifest) Marshal() ([]byte, error) {
	return yaml.Marshal(m.Pod)
}

// Clone returns an independent copy.
func (m *Manifest) Clone() *Manifest {
	return &Manifest{Pod: m.Pod.DeepCopy(), File: m.File}
}
