package env

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// An environment's name is its identity on the machine: every kind cluster, container, docker network and iptables
// rule it creates carries it, so `down` of one environment finds exactly its own things and never another's.
//
// A name is 1-12 lower-case letters and digits. It has no hyphen, so a kind cluster name NamePrefix+<env>+"-"+<cluster>
// tells which environment it belongs to even when the cluster name has hyphens of its own.
const (
	// NamePrefix starts every kind cluster and docker network name meshconform creates.
	NamePrefix = "mc-"
	// MaxNameLen keeps kind's node names (<prefix><env>-<cluster>-control-plane) within 63 characters for the
	// cluster names topology validation accepts.
	MaxNameLen = 12
	// NameEnv overrides the default name, as --env does.
	NameEnv = "MESHCONFORM_ENV"
	// ManagedLabel marks a docker network or Kubernetes object meshconform created.
	ManagedLabel = "meshconform.io/managed"
	// EnvLabel names the environment that created a docker network or Kubernetes object.
	EnvLabel = "meshconform.io/env"
	// MaxKindNodeName is the longest container/host name kind can give a node (a DNS label).
	MaxKindNodeName = 63
	// kindNodeSuffix is the longest suffix kind adds to a cluster's name for a node name ("-control-plane"; workers
	// are "-worker", "-worker2", ...: shorter up to 999999 workers).
	kindNodeSuffix = "-control-plane"
)

// ValidateName says what is wrong with an environment name, nil if nothing.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("empty: use 1-12 lower-case letters and digits")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%q is %d characters, longer than %d: use a shorter name", name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("%q has %q: use only lower-case letters and digits (no hyphens)", name, string(c))
		}
	}
	return nil
}

// DefaultName derives a name from the state directory: up to 8 letters and digits of its base name and 4 hex digits
// of a hash of its absolute path, so two state directories never share a name (two CI jobs, two homes) and the
// name still hints which directory it is.
func DefaultName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	abs = filepath.Clean(abs)
	var b strings.Builder
	for _, c := range strings.ToLower(filepath.Base(abs)) {
		if b.Len() == 8 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		b.WriteString("env")
	}
	sum := sha256.Sum256([]byte(abs))
	return b.String() + hex.EncodeToString(sum[:2])
}

// ResolveName picks the environment's name: the flag, else $MESHCONFORM_ENV, else the one the state directory's
// file records, else DefaultName. A name that contradicts the recorded one is refused: the directory holds another
// environment.
func ResolveName(flag, dir string, recorded string) (string, error) {
	name, from := flag, "--env"
	if name == "" {
		name, from = os.Getenv(NameEnv), "$"+NameEnv
	}
	if name == "" {
		if recorded != "" {
			return recorded, nil
		}
		return DefaultName(dir), nil
	}
	if err := ValidateName(name); err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	if recorded != "" && recorded != name {
		return "", fmt.Errorf("%s %s: the state directory %s holds environment %q, not %q: pass the state directory of "+
			"%s (--state-dir or $MESHCONFORM_HOME), or leave %s out to use %q", from, name, dir, recorded, name, name, from, recorded)
	}
	return name, nil
}

// KindClusterName is the kind cluster of an environment's topology cluster.
func KindClusterName(envName, cluster string) string { return NamePrefix + envName + "-" + cluster }

// DockerNetworkName is the docker network of an environment's mesh network (or "bridge" for bridged networking).
func DockerNetworkName(envName, network string) string { return NamePrefix + envName + "-" + network }

// EnvOfName returns the environment a kind cluster or docker network name says it belongs to.
func EnvOfName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return "", false
	}
	envName, _, ok := strings.Cut(rest, "-")
	if !ok || ValidateName(envName) != nil {
		return "", false
	}
	return envName, true
}

// CheckKindNames says, for every cluster whose kind node names would exceed kind's limit, which part to shorten.
func CheckKindNames(envName string, clusters []string) []error {
	var errs []error
	for _, c := range clusters {
		node := KindClusterName(envName, c) + kindNodeSuffix
		if len(node) > MaxKindNodeName {
			errs = append(errs, fmt.Errorf("cluster %q: kind's node name %s is %d characters, over kind's %d: shorten the "+
				"cluster's name to %d characters or the environment's name (--env) to %d", c, node, len(node),
				MaxKindNodeName, max(0, len(c)-(len(node)-MaxKindNodeName)), max(1, len(envName)-(len(node)-MaxKindNodeName))))
		}
	}
	return errs
}
