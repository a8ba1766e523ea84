// Package k8s holds expenseflow's Kubernetes manifests: a kustomize base
// (the five services, a RabbitmqCluster and a CloudNativePG Cluster) and
// the dev and prod overlays. No cluster runs where the tests run, so its
// test renders every overlay in-process, decodes each object strictly into
// its Go API type, and checks the manifests against the code: the
// variables it reads, its ports and probes, and the operators' Secrets.
package k8s
