// Package steps runs the named steps of a long operation (`up`'s provisioning, the install, Istio's stages) the one
// way they all need: each step is announced, timed and followed by a save of the environment, steps of a stage run
// in parallel, a cancelled context ends the run at once with the step it interrupted named, and every progress line
// has the same shape, "[<phase> <elapsed>] <message>". kind's create actions are the model: small named steps
// sharing one context and one status line.
package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Step is one named unit of work.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// Runner runs steps for one phase of work.
type Runner struct {
	prefix string
	out    io.Writer
	start  time.Time
	// save persists the environment after every step (nil: nothing to save).
	save func() error
	// record keeps a successful step's duration (nil: not recorded).
	record func(name string, d time.Duration)
	// interrupted is appended to the line saying a step was interrupted (e.g. how to clean up).
	interrupted string

	mu sync.Mutex // serialises output and saves
}

// Option configures a Runner.
type Option func(*Runner)

// WithSave saves the environment after every step, failed or not, so an interruption leaves a record of what was made.
func WithSave(save func() error) Option { return func(r *Runner) { r.save = save } }

// WithRecord keeps the duration of every step that succeeded (the environment's phase timings).
func WithRecord(record func(name string, d time.Duration)) Option {
	return func(r *Runner) { r.record = record }
}

// WithInterruptHint is added to the line reporting an interrupted step.
func WithInterruptHint(hint string) Option { return func(r *Runner) { r.interrupted = hint } }

// New returns a runner whose lines start with "[prefix <elapsed>]".
func New(prefix string, out io.Writer, opts ...Option) *Runner {
	if out == nil {
		out = io.Discard
	}
	r := &Runner{prefix: prefix, out: out, start: time.Now()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Elapsed is the time since the runner was made.
func (r *Runner) Elapsed() time.Duration { return time.Since(r.start) }

// Logf prints one progress line.
func (r *Runner) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "[%s %6s] %s\n", r.prefix, r.Elapsed().Round(time.Second), fmt.Sprintf(format, args...))
}

// Writer prefixes what a tool prints (each write is one or more lines) with the runner's status prefix, indented.
func (r *Runner) Writer() io.Writer { return prefixed{r} }

type prefixed struct{ r *Runner }

func (w prefixed) Write(b []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	fmt.Fprintf(w.r.out, "[%s %6s]   %s", w.r.prefix, w.r.Elapsed().Round(time.Second), b)
	return len(b), nil
}

// Save persists the environment now (under the runner's lock, so parallel steps never save at the same time).
func (r *Runner) Save() error {
	if r.save == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.save(); err != nil {
		return fmt.Errorf("save environment: %w", err)
	}
	return nil
}

// Run runs steps one after another, each announced ("name ...") and reported ("name done in d"), stopping at the
// first that fails. An error names its step; an interruption returns ctx.Err().
func (r *Runner) Run(ctx context.Context, steps ...Step) error {
	for _, s := range steps {
		if err := r.one(ctx, s, true); err != nil {
			return err
		}
	}
	return nil
}

// Parallel runs the steps of one stage at once, without announcing them (each step logs what it did), saves after
// each, and waits for all of them. It returns ctx.Err() when the context ended, else every failure joined.
func (r *Runner) Parallel(ctx context.Context, steps ...Step) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, s := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.one(ctx, s, false)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

func (r *Runner) one(ctx context.Context, s Step, announce bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	began := time.Now()
	if announce {
		r.Logf("%s ...", s.Name)
	}
	err := s.Run(ctx)
	// Saved whatever happened: what a failed or interrupted step made must still be on record for `down`.
	if serr := r.Save(); serr != nil && err == nil {
		err = serr
	}
	took := time.Since(began)
	if err != nil {
		if ctx.Err() != nil {
			r.Logf("%s interrupted after %s%s", s.Name, took.Round(time.Second), r.interrupted)
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	if r.record != nil {
		r.mu.Lock()
		r.record(s.Name, took.Round(time.Millisecond))
		r.mu.Unlock()
		if err := r.Save(); err != nil {
			return err
		}
	}
	if announce {
		r.Logf("%s done in %s", s.Name, took.Round(time.Second))
	}
	return nil
}

// Each runs fn for every item at once and joins the failures (items are usually clusters, whose steps are
// independent).
func Each[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
