// Package deploy holds the container build (Dockerfile), the compose
// observability configuration and, in deploy/k8s, the Kubernetes manifests.
// Its tests check docker-compose.yml (with and without the observability
// profile) and deploy/observability against the real service binaries and
// the seeder, because no Docker engine runs where the tests run.
package deploy
