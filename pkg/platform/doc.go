// Package platform is the process skeleton every expenseflow service stands
// on, so that each service's own wiring is a page long: the shared
// configuration, structured logging with correlation ids, the database with
// migrations, the broker with the declared topology, the consumer router, the
// outbox relay, the HTTP server, and a graceful shutdown in the right order
// (stop taking requests, drain handlers, stop the relay, close connections).
package platform
