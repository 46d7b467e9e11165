// Package version parses and compares etcd release versions ("3.5.35",
// "v3.6.16", "3.7") with golang.org/x/mod/semver.
package version

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Canonical returns the version in "vMAJOR.MINOR.PATCH[-pre]" form, or an
// error when s is not a full etcd version.
func Canonical(s string) (string, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return "", fmt.Errorf("empty version")
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) || strings.Count(strings.SplitN(v, "-", 2)[0], ".") != 2 {
		return "", fmt.Errorf("%q is not a version: want MAJOR.MINOR.PATCH such as 3.5.35", s)
	}
	return semver.Canonical(v), nil
}

// MustCanonical is Canonical for versions known to be well formed.
func MustCanonical(s string) string {
	v, err := Canonical(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Plain returns the version without the leading "v" ("3.5.35").
func Plain(s string) string { return strings.TrimPrefix(s, "v") }

// Compare compares two versions, with or without the "v" prefix.
func Compare(a, b string) int { return semver.Compare(withV(a), withV(b)) }

// Minor returns "3.5" for "3.5.35" or "v3.5.35".
func Minor(s string) string { return Plain(semver.MajorMinor(withV(s))) }

// IsMinor reports whether s names a minor line such as "3.6" or "v3.6".
func IsMinor(s string) bool {
	v := withV(strings.TrimSpace(s))
	return semver.IsValid(v) && strings.Count(v, ".") == 1 && !strings.Contains(v, "-")
}

// MinorIndex returns the minor number of "3.6.16" (6).
func MinorIndex(s string) int {
	var maj, min int
	fmt.Sscanf(Minor(s), "%d.%d", &maj, &min)
	return min
}

// NextMinor returns the minor after "3.5" ("3.6").
func NextMinor(minor string) string {
	var maj, min int
	fmt.Sscanf(Plain(minor), "%d.%d", &maj, &min)
	return fmt.Sprintf("%d.%d", maj, min+1)
}

// Core returns the release a pre-release precedes ("3.7.0-rc.0" ->
// "3.7.0"); a release is returned as given.
func Core(s string) string {
	if p := semver.Prerelease(withV(s)); p != "" {
		return strings.TrimSuffix(s, p)
	}
	return s
}

// IsPrerelease reports whether the version has a pre-release suffix.
func IsPrerelease(s string) bool { return semver.Prerelease(withV(s)) != "" }

func withV(s string) string {
	if strings.HasPrefix(s, "v") {
		return s
	}
	return "v" + s
}
