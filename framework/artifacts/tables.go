package artifacts

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshconform/meshconform/framework/kube"
)

// podTable is one line per pod, the columns of `kubectl get pods -A -o wide`.
func podTable(pods []corev1.Pod, now time.Time) []byte {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tNODE")
	for i := range pods {
		p := &pods[i]
		ready, restarts := 0, int32(0)
		for _, s := range p.Status.ContainerStatuses {
			if s.Ready {
				ready++
			}
			restarts += s.RestartCount
		}
		status := kube.PodState(p)
		if p.DeletionTimestamp != nil {
			status = "Terminating (" + status + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", p.Namespace, p.Name, ready, len(p.Spec.Containers),
			oneLine(status), restarts, age(p.CreationTimestamp.Time, now), orNone(p.Status.PodIP), orNone(p.Spec.NodeName))
	}
	w.Flush()
	return buf.Bytes()
}

// eventTime is the best time an event carries: series and last timestamps for repeated events, else its first.
func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// eventTable lists events of all namespaces, oldest first, so a failure reads as a story.
func eventTable(events []corev1.Event) []byte {
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tNAMESPACE\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	for _, e := range events {
		t := eventTime(e)
		ts := "<unknown>"
		if !t.IsZero() {
			ts = t.UTC().Format(time.RFC3339)
		}
		count := e.Count
		if e.Series != nil {
			count = e.Series.Count
		}
		obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", ts, orNone(e.Namespace), e.Type, e.Reason, obj, count, oneLine(e.Message))
	}
	w.Flush()
	return buf.Bytes()
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// oneLine keeps a table row on one line (tabs would also break the columns).
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}
