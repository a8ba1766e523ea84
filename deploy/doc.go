// Package deploy holds the container build (Dockerfile) and configuration;
// its test checks docker-compose.yml against the real service binaries,
// because no Docker engine runs where the tests run.
package deploy
