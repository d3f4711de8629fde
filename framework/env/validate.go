package env

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Validate checks what every reader relies on, so that no reader can crash on a file that parses: names present and
// unique, known roles and values, addresses and subnets that are IPv4, remotes whose primary is in the file, mesh
// records only for clusters of the environment. Fields an interrupted `up` had not reached yet may be empty. Every
// problem is listed, each with its field path, wrapped in ErrInvalid.
func (s *State) Validate() error {
	var p []string
	add := func(field, format string, args ...any) { p = append(p, field+": "+fmt.Sprintf(format, args...)) }

	if err := ValidateName(s.Name); err != nil {
		add("name", "%v", err)
	}
	if s.Topology.Name == "" {
		add("topology.name", "missing")
	}
	if s.Topology.Networking != "" && !validIn(s.Topology.Networking, []Networking{NetworkingBridged, NetworkingIsolated}) {
		add("topology.networking", "%q: must be bridged or isolated", s.Topology.Networking)
	}
	if s.Images.Source != "" && !validIn(s.Images.Source, ImageSources) {
		add("images.source", "%q: must be one of %s", s.Images.Source, join(ImageSources))
	}
	nets := map[string]bool{}
	for i, n := range s.Networks {
		f := fmt.Sprintf("networks[%d]", i)
		switch {
		case n.Name == "":
			add(f+".name", "missing")
		case nets[n.Name]:
			add(f+".name", "%q appears twice", n.Name)
		}
		nets[n.Name] = true
		if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() {
			add(f+".subnet", "%q: must be an IPv4 prefix", n.Subnet)
		}
	}
	names := map[string]bool{}
	for i, c := range s.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		switch {
		case c.Name == "":
			add(f+".name", "missing")
		case names[c.Name]:
			add(f+".name", "%q appears twice", c.Name)
		}
		names[c.Name] = true
	}
	for i, c := range s.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		switch c.Role {
		case RolePrimary:
			if c.Primary != "" {
				add(f+".primary", "%q set on a primary", c.Primary)
			}
		case RoleRemote:
			if pc := s.Cluster(c.Primary); pc == nil || pc.Role != RolePrimary {
				add(f+".primary", "%q: a remote needs a primary of this environment", c.Primary)
			}
		default:
			add(f+".role", "%q: must be primary or remote", c.Role)
		}
		if c.Network == "" {
			add(f+".network", "missing")
		}
		if c.DockerNetwork != "" && len(s.Networks) > 0 && !nets[c.DockerNetwork] {
			add(f+".dockerNetwork", "%q is not in networks", c.DockerNetwork)
		}
		for j, ip := range c.NodeIPs {
			if !ip.Is4() {
				add(fmt.Sprintf("%s.nodeIPs[%d]", f, j), "%q: must be an IPv4 address", ip)
			}
		}
		for _, sub := range []struct{ field, v string }{{"podSubnet", c.PodSubnet}, {"serviceSubnet", c.ServiceSubnet}} {
			if sub.v == "" {
				continue
			}
			if pr, err := netip.ParsePrefix(sub.v); err != nil || !pr.Addr().Is4() {
				add(f+"."+sub.field, "%q: must be an IPv4 prefix", sub.v)
			}
		}
		if c.Access.ControlPlaneIP != "" {
			if a, err := netip.ParseAddr(c.Access.ControlPlaneIP); err != nil || !a.Is4() {
				add(f+".access.controlPlaneIP", "%q: must be an IPv4 address", c.Access.ControlPlaneIP)
			}
		}
		if c.PoolFirst.IsValid() != c.PoolLast.IsValid() || (c.PoolFirst.IsValid() && (!c.PoolFirst.Is4() || !c.PoolLast.Is4() || c.PoolLast.Less(c.PoolFirst))) {
			add(f+".poolFirst/poolLast", "%s-%s: must both be IPv4 addresses, first <= last", c.PoolFirst, c.PoolLast)
		}
	}
	if m := s.Mesh; m != nil {
		if m.Installer != "" && !validIn(m.Installer, Installers) {
			add("mesh.installer", "%q: must be one of %s", m.Installer, join(Installers))
		}
		if m.DataPlane != "" && !validIn(m.DataPlane, DataPlanes) {
			add("mesh.dataPlane", "%q: must be one of %s", m.DataPlane, join(DataPlanes))
		}
		if m.ExposeIstiod != "" && !validIn(m.ExposeIstiod, IstiodExposures) {
			add("mesh.exposeIstiod", "%q: must be one of %s", m.ExposeIstiod, join(IstiodExposures))
		}
		for name, mc := range m.Clusters {
			if !names[name] {
				add("mesh.clusters."+name, "not a cluster of this environment")
			}
			if in := mc.Injection; in != nil {
				f := "mesh.clusters." + name + ".injection"
				switch {
				case in.Label == InjectionLabel && in.Value != InjectionEnabled:
					add(f+".value", "%q: %s takes %q", in.Value, InjectionLabel, InjectionEnabled)
				case in.Label == RevisionLabel && in.Value == "":
					add(f+".value", "missing: the revision or tag %s names", RevisionLabel)
				case in.Label != InjectionLabel && in.Label != RevisionLabel:
					add(f+".label", "%q: must be %s or %s", in.Label, InjectionLabel, RevisionLabel)
				}
				if in.Revision == "" {
					add(f+".revision", "missing (%q for the default revision)", DefaultRevision)
				}
			}
		}
		if w := m.Workloads; w != nil && (w.Port < 0 || w.Port > 65535) {
			add("mesh.workloads.port", "%d: must be a TCP port", w.Port)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(p, "\n  "))
}

func join[T ~string](vs []T) string {
	var out []string
	for _, v := range vs {
		out = append(out, string(v))
	}
	return strings.Join(out, ", ")
}

// IsInvalid says whether err is a validation failure of an environment file.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
