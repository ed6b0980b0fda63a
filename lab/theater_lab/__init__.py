"""The mesh lab's orchestration: real nodes made of network namespaces, containerd,
kubelet and kube-proxy, started, configured, waited for and stopped. No component of
Kubernetes is played here: every one is the upstream program (scripts/k8s-tools.sh)."""
