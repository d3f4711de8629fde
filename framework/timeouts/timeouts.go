// Package timeouts is every wait meshconform makes, in one place, each with its default and its maximum (the model
// is gateway-api's conformance TimeoutConfig and its MaxTimeToConsistency): provisioning, installation and the suites
// read their budgets from one Timeouts, and `--timeout name=duration` sets any of them on up, test and run. A wait
// beyond its maximum hides a broken environment rather than a slow one, so it is refused.
//
// A budget bounds a wait that can still converge. Checks that can decide earlier (a verdict that no further
// waiting can change) return at once; the budget is what a slow but healthy environment is allowed.
package timeouts

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Timeouts bound the waits of one command. Zero fields take Default (WithDefaults).
type Timeouts struct {
	// NodesReady: every node of a kind cluster Ready after kind returns (CNI pods start). Default 4m, max 5m.
	NodesReady time.Duration `json:"nodesReady"`
	// MetalLB: MetalLB's controller, speaker and webhook ready in a cluster. Default 4m, max 5m.
	MetalLB time.Duration `json:"metallb"`
	// IstiodReady: an istiod Deployment Available. Default 3m, max 10m.
	IstiodReady time.Duration `json:"istiodReady"`
	// GatewayAddress: a LoadBalancer Service (east-west gateway, istiod's address for remotes) gets its IP, counted
	// from the moment its cluster's MetalLB is ready. Default 2m, max 5m.
	GatewayAddress time.Duration `json:"gatewayAddress"`
	// GatewayPods: how long east-west gateway pods are watched before they are judged unable to run. Default 90s,
	// max 5m.
	GatewayPods time.Duration `json:"gatewayPods"`
	// ReaderToken: the remote-secret reader's service account token is filled. Default 1m, max 5m.
	ReaderToken time.Duration `json:"readerToken"`
	// RemoteSync: after the install, every primary's istiod reports every cluster synced. Default 3m, max 10m.
	RemoteSync time.Duration `json:"remoteSync"`
	// Workloads: every test workload Deployment Available (proxyless pods wait for their xDS bootstrap). Default
	// 4m, max 5m.
	Workloads time.Duration `json:"workloads"`

	// Sync: in the suites, every primary reports every cluster synced. Default 2m, max 10m.
	Sync time.Duration `json:"sync"`
	// Certs: workload certificates can be read and verify. Default 1m, max 5m.
	Certs time.Duration `json:"certs"`
	// Discovery: a client's view (and its calls) reach every other cluster after config changes. Default 2m, max 10m.
	Discovery time.Duration `json:"discovery"`
	// Gateway: a gateway has its address and its ports answer. Default 2m, max 10m.
	Gateway time.Duration `json:"gateway"`
	// Probe: one TCP connection attempt. Default 3s, max 30s.
	Probe time.Duration `json:"probe"`
	// WarmUp: uncounted calls until every cluster has answered once, before judged calls. Default 1m, max 5m.
	WarmUp time.Duration `json:"warmUp"`
	// DocFidelity: the install guide's sample becomes Ready and toggles versions. Default 5m, max 15m.
	DocFidelity time.Duration `json:"docFidelity"`
	// Failover: after a cluster's echo pods are drained, calls from every caller stop failing and stop reaching it
	// (and after the restore it answers again). Default 1m, max 5m.
	Failover time.Duration `json:"failover"`
	// Suite: the whole run of the suites. Default 30m, max 2h.
	Suite time.Duration `json:"suite"`
}

// Default fits a laptop or a 2-core CI runner with kind clusters.
var Default = Timeouts{
	NodesReady: 4 * time.Minute, MetalLB: 4 * time.Minute,
	IstiodReady: 3 * time.Minute, GatewayAddress: 2 * time.Minute, GatewayPods: 90 * time.Second,
	ReaderToken: time.Minute, RemoteSync: 3 * time.Minute, Workloads: 4 * time.Minute,
	Sync: 2 * time.Minute, Certs: time.Minute, Discovery: 2 * time.Minute, Gateway: 2 * time.Minute,
	Probe: 3 * time.Second, WarmUp: time.Minute, DocFidelity: 5 * time.Minute, Failover: time.Minute,
	Suite: 30 * time.Minute,
}

// Max are the largest values accepted.
var Max = Timeouts{
	NodesReady: 5 * time.Minute, MetalLB: 5 * time.Minute,
	IstiodReady: 10 * time.Minute, GatewayAddress: 5 * time.Minute, GatewayPods: 5 * time.Minute,
	ReaderToken: 5 * time.Minute, RemoteSync: 10 * time.Minute, Workloads: 5 * time.Minute,
	Sync: 10 * time.Minute, Certs: 5 * time.Minute, Discovery: 10 * time.Minute, Gateway: 10 * time.Minute,
	Probe: 30 * time.Second, WarmUp: 5 * time.Minute, DocFidelity: 15 * time.Minute, Failover: 5 * time.Minute,
	Suite: 2 * time.Hour,
}

// Names are the waits' names as --timeout and the environment's JSON spell them, in declaration order.
func Names() []string {
	t := reflect.TypeFor[Timeouts]()
	names := make([]string, t.NumField())
	for i := range t.NumField() {
		names[i] = t.Field(i).Tag.Get("json")
	}
	return names
}

// WithDefaults fills zero fields from Default and refuses negative values and values above Max, naming every field
// that is wrong at once.
func (t Timeouts) WithDefaults() (Timeouts, error) {
	v, d, mx := reflect.ValueOf(&t).Elem(), reflect.ValueOf(Default), reflect.ValueOf(Max)
	var errs []error
	for i, name := range Names() {
		f := v.Field(i)
		cur, limit := time.Duration(f.Int()), time.Duration(mx.Field(i).Int())
		switch {
		case cur < 0:
			errs = append(errs, fmt.Errorf("timeouts.%s %s: must not be negative", name, cur))
		case cur == 0:
			f.SetInt(d.Field(i).Int())
		case cur > limit:
			errs = append(errs, fmt.Errorf("timeouts.%s %s: above the maximum %s", name, cur, limit))
		}
	}
	return t, errors.Join(errs...)
}

// Parse reads NAME=DURATION pairs (names as Names spells them, any case) into Timeouts and validates them with
// WithDefaults, naming every bad pair at once. Unset waits stay zero (their defaults).
func Parse(in map[string]string) (Timeouts, error) {
	var t Timeouts
	v := reflect.ValueOf(&t).Elem()
	names := Names()
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
		if i < 0 {
			errs = append(errs, fmt.Errorf("%s: unknown wait; use one of %s", k, strings.Join(names, ", ")))
			continue
		}
		d, err := time.ParseDuration(in[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w (e.g. 90s or 5m)", k, in[k], err))
			continue
		}
		v.Field(i).SetInt(int64(d))
	}
	if _, err := t.WithDefaults(); err != nil {
		errs = append(errs, err)
	}
	return t, errors.Join(errs...)
}
