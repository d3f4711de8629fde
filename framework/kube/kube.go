// Package kube is meshconform's one Kubernetes plumbing package: a client from a kubeconfig, server-side apply,
// namespaces, readiness judgements and waits that report what they wait for, rollout restart, exec and port-forward.
// Every other package calls these instead of talking to the API its own way.
package kube

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/conf"
)

// FieldManager names meshconform as the owner of the fields it writes (server-side apply and updates).
const FieldManager = "meshconform"

// Client bundles the typed clientset and e2e-framework's klient for one cluster.
type Client struct {
	Name      string
	Config    *rest.Config
	Clientset kubernetes.Interface
	Klient    klient.Client
}

// New returns a client for a kubeconfig file and (optional) context.
func New(name, kubeconfig, context string) (*Client, error) {
	var cfg *rest.Config
	var err error
	if context != "" {
		cfg, err = conf.NewWithContextName(kubeconfig, context)
	} else {
		cfg, err = conf.New(kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: load kubeconfig %s: %w", name, kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: clientset: %w", name, err)
	}
	kc, err := klient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: klient: %w", name, err)
	}
	return &Client{Name: name, Config: cfg, Clientset: cs, Klient: kc}, nil
}

// Poll runs cond every interval until it returns true, an error, or timeout; on timeout the error carries the last
// state cond described, so a hang reads as "waited 2m for X: last seen Y".
func Poll(ctx context.Context, what string, interval, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	last := "nothing observed yet"
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		ok, state, err := cond(ctx)
		if state != "" {
			last = state
		}
		return ok, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("waited %s for %s: %w (last seen: %s)", timeout, what, err, last)
	}
	return nil
}
