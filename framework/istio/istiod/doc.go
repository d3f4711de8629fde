// Package istiod reads what a running istiod knows, through its debug endpoints on the monitoring port (reached with
// a port forward, (*kube.Client).PortForwardGet, as istioctl does) and its log: the clusters it reads and whether
// they are synced (/debug/clusterz: ClusterStatuses, ParseClusterz, SyncProblems), the endpoints it sends a proxy
// (/debug/edsz: ProxyEndpoints), which pods are running istiods (RunningPods), the last error it logged about a
// cluster (LastError), and the cluster ID Istio knows a cluster by (ClusterID). The install's sync step, the specs'
// checks and the failure artifacts all read istiod through it.
package istiod
