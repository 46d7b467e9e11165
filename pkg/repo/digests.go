package repo

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseDigest reads one --digest REF=sha256:...: REF is an image tag
// (3.6.9-0, v3.6.9) or a reference ending in one
// (registry.k8s.io/etcd:3.6.9-0). It returns the tag and the digest.
func ParseDigest(s string) (tag, digest string, err error) {
	ref, digest, ok := strings.Cut(s, "=")
	if !ok || ref == "" {
		return "", "", fmt.Errorf("--digest %q: want REF=sha256:<64 hex>, REF being the new tag (3.6.9-0) or image (registry.k8s.io/etcd:3.6.9-0)", s)
	}
	if err := CheckDigest(digest); err != nil {
		return "", "", fmt.Errorf("--digest %s: %w", ref, err)
	}
	tag = ref
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		tag = ref[i+1:]
	}
	if _, err := parseTag(tag); err != nil {
		return "", "", fmt.Errorf("--digest %s: %q is not an etcd image tag (3.6.9-0, v3.6.9)", ref, tag)
	}
	return tag, digest, nil
}

// parseTag checks that a tag names an etcd version.
func parseTag(tag string) (string, error) {
	m := anyVersionRe.FindString(tag)
	if m == "" || m != tag {
		return "", fmt.Errorf("not a version tag")
	}
	return etcdVersion(tag), nil
}

// promoterImage is one image of the image promoter's images.yaml
// (kubernetes/k8s.io registry.k8s.io/images/k8s-staging-etcd/images.yaml):
// the image name and, for each digest, its tags.
type promoterImage struct {
	Name string              `yaml:"name"`
	DMap map[string][]string `yaml:"dmap"`
}

// ReadDigests reads an image promoter images.yaml and returns, for the
// etcd image, each tag's digest.
func ReadDigests(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--digests: %w", err)
	}
	var images []promoterImage
	if err := yaml.Unmarshal(b, &images); err != nil {
		return nil, fmt.Errorf("--digests %s: not an image promoter images.yaml (a list of {name, dmap: {digest: [tags]}}): %v", path, err)
	}
	out := map[string]string{}
	found := false
	for _, im := range images {
		if im.Name != "etcd" {
			continue
		}
		found = true
		for d, tags := range im.DMap {
			if err := CheckDigest(d); err != nil {
				return nil, fmt.Errorf("--digests %s: %w", path, err)
			}
			for _, t := range tags {
				out[t] = d
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("--digests %s: no image named etcd in it", path)
	}
	return out, nil
}
