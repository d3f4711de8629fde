package env

import (
	"errors"
	"strings"
	"testing"
)

// The ownership decision of `up` (MayWrite, through Claimant.Check) and `down` (MayDelete), for every kind of owner.
func TestOwnershipDecision(t *testing.T) {
	const me = "dev"
	cases := []struct {
		name             string
		labels           map[string]string
		write, withAdopt bool
		del              bool
	}{
		{"ours", ObjectLabels(me), true, true, true},
		{"ours with other labels too", map[string]string{ManagedByLabel: ManagedByValue, EnvLabel: me, "istio/multiCluster": "true"}, true, true, true},
		{"another environment's", ObjectLabels("ci"), false, true, false},
		{"meshconform's before environments had names", map[string]string{ManagedByLabel: ManagedByValue}, true, true, false},
		{"the workloads' older mark", map[string]string{ManagedLabel: "true"}, true, true, false},
		{"unlabelled", nil, false, true, false},
		{"someone else's manager", map[string]string{ManagedByLabel: "Helm"}, false, true, false},
		{"an env label but not managed by meshconform", map[string]string{EnvLabel: me}, false, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := OwnerOf(c.labels)
			if got := MayWrite(o, me, false); got != c.write {
				t.Errorf("MayWrite(%v) = %v, want %v", o, got, c.write)
			}
			if got := MayWrite(o, me, true); got != c.withAdopt {
				t.Errorf("MayWrite(%v, adopt) = %v, want %v", o, got, c.withAdopt)
			}
			if got := MayDelete(o, me); got != c.del {
				t.Errorf("MayDelete(%v) = %v, want %v", o, got, c.del)
			}
			err := Claimant{Env: me}.Check("cluster1", "Secret", "istio-system", "cacerts", c.labels)
			if (err == nil) != c.write {
				t.Errorf("Check = %v, want refusal %v", err, !c.write)
			}
			if err := (Claimant{Env: me, Adopt: true}).Check("cluster1", "Secret", "istio-system", "cacerts", c.labels); err != nil {
				t.Errorf("Check with adopt = %v", err)
			}
		})
	}
}

func TestRefusalNamesObjectOwnerAndFlag(t *testing.T) {
	err := Claimant{Env: "dev"}.Check("cluster2", "Secret", "istio-system", "istio-remote-secret-cluster1", ObjectLabels("ci"))
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want a *RefusedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"cluster2", "Secret istio-system/istio-remote-secret-cluster1", `environment "ci"`,
		"meshconform.io/env=ci", `not environment "dev"'s`, AdoptFlag} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	err = Claimant{Env: "dev"}.Check("cluster1", "Secret", "istio-system", "cacerts", map[string]string{"team": "x"})
	msg = err.Error()
	for _, want := range []string{"cluster1: refusing to overwrite Secret istio-system/cacerts", "not meshconform's",
		ManagedByLabel + "=" + ManagedByValue, AdoptFlag} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
}

// The exact refusal, as README and the final report quote it.
func TestRefusalText(t *testing.T) {
	got := Claimant{Env: "dev"}.Check("cluster1", "Secret", "istio-system", "cacerts", nil).Error()
	want := "cluster1: refusing to overwrite Secret istio-system/cacerts: it is not meshconform's " +
		"(no app.kubernetes.io/managed-by=meshconform label), not environment \"dev\"'s; to let \"dev\" take it over " +
		"(overwrite it, label it meshconform.io/env=dev, and delete it on `meshconform down`), pass " +
		"--adopt-existing-secrets; otherwise leave this cluster out, or delete the object if it is stale"
	if got != want {
		t.Errorf("refusal\n got %s\nwant %s", got, want)
	}
	got = Claimant{Env: "dev"}.Check("cluster2", "Secret", "istio-system", "istio-remote-secret-cluster1", ObjectLabels("ci")).Error()
	if !strings.HasSuffix(got, "otherwise remove environment \"ci\" first (`meshconform down --env ci` from its state "+
		"directory): two environments cannot share a cluster's mesh") {
		t.Errorf("refusal of another environment's object: %s", got)
	}
}
