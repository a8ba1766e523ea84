// Package amqpx is expenseflow's RabbitMQ plumbing on top of watermill-amqp:
// the topology (one durable topic exchange, one durable queue per service
// subscription, a dead-letter exchange and one dead-letter queue per service),
// publishers with confirms and a channel pool, subscribers with bounded
// prefetch, and the consumer router with its middleware chain:
//
//	dead-letter on final failure → retry with backoff → recover panics → decode → handler
//
// A handler returns nil only after its effect is committed; the message is
// acked then. A transient error is retried with exponential backoff; a
// permanent one (undecodable event, invalid data) skips the retries. Either
// way a message that cannot be handled ends in the service's dead-letter
// queue with the error, the handler and its original headers, and the queue
// moves on. Nothing is logged-and-dropped.
package amqpx
