package env

import "fmt"

// Ownership of Kubernetes objects. Everything meshconform creates in a cluster carries ObjectLabels: who made it
// (app.kubernetes.io/managed-by=meshconform) and for which environment (meshconform.io/env=<name>). `up` writes
// over an existing object only when it is this environment's (or meshconform's from before environments had
// names), unless told to adopt it; `down` deletes an object only when it is this environment's.
const (
	// ManagedByLabel=ManagedByValue marks every Kubernetes object meshconform creates (Kubernetes' recommended label).
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "meshconform"
	// AdoptFlag is the flag of `up` and `run` that lets an environment take over the objects it would write but did
	// not create (Claimant.Adopt).
	AdoptFlag = "--adopt-existing-secrets"
)

// ObjectLabels are the labels of every Kubernetes object environment name creates.
func ObjectLabels(name string) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, EnvLabel: name}
}

// Owner is who an object's labels say created it.
type Owner struct {
	// Meshconform: the object carries managed-by=meshconform (or meshconform.io/managed=true, the older mark of
	// the test workloads' namespace).
	Meshconform bool
	// Env is its meshconform.io/env label: the environment that created it. Empty on objects meshconform made
	// before environments had names.
	Env string
}

// OwnerOf reads an object's labels. An env label without managed-by does not make an object meshconform's.
func OwnerOf(labels map[string]string) Owner {
	o := Owner{Meshconform: labels[ManagedByLabel] == ManagedByValue || labels[ManagedLabel] == "true"}
	if o.Meshconform {
		o.Env = labels[EnvLabel]
	}
	return o
}

// Mine says whether environment name created the object.
func (o Owner) Mine(name string) bool { return o.Meshconform && o.Env == name }

// Unnamed says the object is meshconform's from before environments had names: no environment claims it.
func (o Owner) Unnamed() bool { return o.Meshconform && o.Env == "" }

// String says whose the object is, as a message's "it is ..." continues.
func (o Owner) String() string {
	switch {
	case !o.Meshconform:
		return fmt.Sprintf("not meshconform's (no %s=%s label)", ManagedByLabel, ManagedByValue)
	case o.Env == "":
		return fmt.Sprintf("meshconform's from before environments had names (no %s label)", EnvLabel)
	default:
		return fmt.Sprintf("meshconform environment %q's (%s=%s)", o.Env, EnvLabel, o.Env)
	}
}

// MayWrite decides whether environment name may overwrite an existing object of this owner: its own, and
// meshconform's unnamed ones (which it then labels as its own), yes; another environment's or one meshconform did
// not create, only when adopting.
func MayWrite(o Owner, name string, adopt bool) bool {
	return o.Mine(name) || o.Unnamed() || adopt
}

// MayDelete decides whether `down` of environment name may delete an object of this owner: only its own.
// Another environment's, an unnamed one and one meshconform did not create are left alone.
func MayDelete(o Owner, name string) bool { return o.Mine(name) }

// Claimant is the environment writing objects into a cluster, and whether it takes over existing ones it did not
// create (AdoptFlag).
type Claimant struct {
	Env   string
	Adopt bool
}

// Labels are the labels the claimant's objects carry.
func (c Claimant) Labels() map[string]string { return ObjectLabels(c.Env) }

// Check is nil when the claimant may overwrite the existing object (kind, namespace/name in cluster) that has
// these labels, else a *RefusedError naming it, its owner and AdoptFlag.
func (c Claimant) Check(cluster, kind, namespace, name string, labels map[string]string) error {
	o := OwnerOf(labels)
	if MayWrite(o, c.Env, c.Adopt) {
		return nil
	}
	otherwise := "otherwise leave this cluster out, or delete the object if it is stale"
	if o.Meshconform && o.Env != "" {
		otherwise = fmt.Sprintf("otherwise remove environment %q first (`meshconform down --env %s` from its state "+
			"directory): two environments cannot share a cluster's mesh", o.Env, o.Env)
	}
	return &RefusedError{Cluster: cluster, Kind: kind, Namespace: namespace, Name: name, Owner: o, Env: c.Env,
		Fix: fmt.Sprintf("to let %q take it over (overwrite it, label it %s=%s, and delete it on `meshconform down`), "+
			"pass %s; %s", c.Env, EnvLabel, c.Env, AdoptFlag, otherwise)}
}

// RefusedError is `up` refusing to overwrite an object it did not create.
type RefusedError struct {
	Cluster, Kind, Namespace, Name string
	Owner                          Owner
	// Env is the environment that refused.
	Env string
	// Fix says how to proceed.
	Fix string
}

func (e *RefusedError) Error() string {
	where := e.Name
	if e.Namespace != "" {
		where = e.Namespace + "/" + e.Name
	}
	return fmt.Sprintf("%s: refusing to overwrite %s %s: it is %s, not environment %q's; %s",
		e.Cluster, e.Kind, where, e.Owner, e.Env, e.Fix)
}
