package clusters

import (
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kind/pkg/log"
)

// logger prints kind's user-facing (V(0)) messages as plain lines; kind's spinner needs a terminal we may not have.
type logger struct{ out io.Writer }

func newLogger(out io.Writer) log.Logger { return logger{out: out} }

func (l logger) line(s string) {
	s = strings.TrimSpace(s)
	if s != "" {
		fmt.Fprintln(l.out, s)
	}
}
func (l logger) Warn(m string)                    { l.line(m) }
func (l logger) Warnf(f string, a ...any)         { l.line(fmt.Sprintf(f, a...)) }
func (l logger) Error(m string)                   { l.line(m) }
func (l logger) Errorf(f string, a ...any)        { l.line(fmt.Sprintf(f, a...)) }
func (l logger) V(level log.Level) log.InfoLogger { return infoLogger{l: l, on: level <= 0} }

type infoLogger struct {
	l  logger
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		i.l.line(m)
	}
}
func (i infoLogger) Infof(f string, a ...any) {
	if i.on {
		i.l.line(fmt.Sprintf(f, a...))
	}
}
func (i infoLogger) Enabled() bool { return i.on }
