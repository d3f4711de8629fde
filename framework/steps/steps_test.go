package steps

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunSavesAfterEveryStepAndStopsAtTheFirstFailure(t *testing.T) {
	var out bytes.Buffer
	var saves atomic.Int32
	var recorded []string
	r := New("up", &out, WithSave(func() error { saves.Add(1); return nil }),
		WithRecord(func(name string, d time.Duration) { recorded = append(recorded, name) }))
	ran := ""
	step := func(name string, err error) Step {
		return Step{Name: name, Run: func(context.Context) error { ran += name; return err }}
	}
	err := r.Run(context.Background(), step("a", nil), step("b", errors.New("boom")), step("c", nil))
	if err == nil || err.Error() != "b: boom" {
		t.Fatalf("err = %v, want the failure named by its step", err)
	}
	if ran != "ab" {
		t.Errorf("ran %q: a failure must stop the steps after it", ran)
	}
	// a: saved after it ran and after its duration was recorded; b: saved although it failed.
	if saves.Load() != 3 {
		t.Errorf("%d saves, want 3 (a failed step's work must be on record)", saves.Load())
	}
	if strings.Join(recorded, ",") != "a" {
		t.Errorf("recorded %v: only steps that succeeded have a duration", recorded)
	}
	for _, want := range []string{"] a ...", "] a done in", "] b ..."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunReportsTheInterruptedStep(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	r := New("up", &out, WithInterruptHint("; `meshconform down` removes what was made"))
	later := false
	err := r.Run(ctx,
		Step{Name: "clusters", Run: func(ctx context.Context) error { cancel(); return errors.New("kind: killed") }},
		Step{Name: "metallb", Run: func(context.Context) error { later = true; return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if later {
		t.Error("a step ran after the interruption")
	}
	if !strings.Contains(out.String(), "clusters interrupted after") || !strings.Contains(out.String(), "meshconform down") {
		t.Errorf("output must name the interrupted step and the hint:\n%s", out.String())
	}
}

func TestParallelRunsAtOnceAndJoinsFailures(t *testing.T) {
	r := New("istio", nil)
	var inFlight, peak atomic.Int32
	block := make(chan struct{})
	step := func(name string, err error) Step {
		return Step{Name: name, Run: func(context.Context) error {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if n == 3 {
				close(block)
			}
			<-block
			return err
		}}
	}
	err := r.Parallel(context.Background(), step("x", errors.New("one")), step("y", nil), step("z", errors.New("two")))
	if peak.Load() != 3 {
		t.Errorf("peak concurrency %d, want 3", peak.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "x: one") || !strings.Contains(err.Error(), "z: two") {
		t.Errorf("err = %v, want both failures named", err)
	}
}

func TestEachJoinsEveryError(t *testing.T) {
	err := Each([]int{1, 2, 3}, func(i int) error {
		if i%2 == 1 {
			return errors.New("odd")
		}
		return nil
	})
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) || len(j.Unwrap()) != 2 {
		t.Errorf("err = %v, want two joined failures", err)
	}
}
