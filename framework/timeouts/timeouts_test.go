package timeouts

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsWithinMaxima(t *testing.T) {
	got, err := Default.WithDefaults()
	if err != nil || got != Default {
		t.Fatalf("Default.WithDefaults() = %+v, %v", got, err)
	}
	if _, err := Max.WithDefaults(); err != nil {
		t.Fatal(err)
	}
	// Every wait has a default and a maximum: a field added without them would mean "no wait at all".
	d, m := reflect.ValueOf(Default), reflect.ValueOf(Max)
	for i, n := range Names() {
		if d.Field(i).Int() <= 0 || m.Field(i).Int() < d.Field(i).Int() {
			t.Errorf("%s: default %s, max %s", n, time.Duration(d.Field(i).Int()), time.Duration(m.Field(i).Int()))
		}
	}
}

func TestWithDefaultsFillsAndRefuses(t *testing.T) {
	got, err := Timeouts{Sync: 5 * time.Minute}.WithDefaults()
	if err != nil || got.Sync != 5*time.Minute || got.Probe != Default.Probe || got.MetalLB != Default.MetalLB {
		t.Fatalf("got %+v, %v", got, err)
	}
	_, err = Timeouts{Sync: 11 * time.Minute, Probe: -time.Second, MetalLB: time.Hour}.WithDefaults()
	for _, want := range []string{"timeouts.sync 11m0s: above the maximum 10m0s", "timeouts.probe -1s: must not be negative",
		"timeouts.metallb 1h0m0s: above the maximum 5m0s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestParse(t *testing.T) {
	got, err := Parse(map[string]string{"warmup": "2m", "MetalLB": "90s", "gatewayAddress": "3m"})
	if err != nil {
		t.Fatal(err)
	}
	if got != (Timeouts{WarmUp: 2 * time.Minute, MetalLB: 90 * time.Second, GatewayAddress: 3 * time.Minute}) {
		t.Errorf("got %+v", got)
	}
	_, err = Parse(map[string]string{"sink": "1m", "sync": "soon", "probe": "1h"})
	for _, want := range []string{"sink: unknown wait; use one of nodesReady, metallb,", "sync=soon: time: invalid duration",
		"timeouts.probe 1h0m0s: above the maximum 30s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// The README's table of waits is the user's reference: it must say what the code does.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][2]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "|")
		if len(f) == 6 && strings.HasPrefix(strings.TrimSpace(f[1]), "`") {
			rows[strings.Trim(strings.TrimSpace(f[1]), "`")] = [2]string{strings.TrimSpace(f[2]), strings.TrimSpace(f[3])}
		}
	}
	d, m := reflect.ValueOf(Default), reflect.ValueOf(Max)
	for i, n := range Names() {
		row, ok := rows[n]
		if !ok {
			t.Errorf("README: no row for wait %s", n)
			continue
		}
		for j, v := range []reflect.Value{d, m} {
			got, err := time.ParseDuration(row[j])
			if want := time.Duration(v.Field(i).Int()); err != nil || got != want {
				t.Errorf("README %s: column %d says %q, the code %s", n, j+1, row[j], want)
			}
		}
	}
}
