// Package httpx is the HTTP edge shared by every service: a gin engine with
// request and correlation ids, structured access logs, panic recovery and
// Prometheus metrics; /healthz, /readyz and /metrics; RFC 9457 problem
// responses (the one place where an error kind becomes a status code);
// strict JSON binding; cursor pagination.
package httpx
