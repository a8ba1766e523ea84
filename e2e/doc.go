// Package e2e runs the five services as real processes — built from their
// main packages, each with its own fresh database, all on one fresh RabbitMQ
// vhost — and drives them only through REST and the broker, the way a user
// and the world would. Nothing in here imports a service's internals.
package e2e
