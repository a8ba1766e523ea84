package app

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/expenseflow/expenseflow/services/webhooks/internal/domain"
)

// Metrics are the webhooks service's own: attempts by outcome and how long
// receivers take. How many deliveries wait, by status, comes from the
// database (postgres.NewBacklogCollector).
type Metrics struct {
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "expenseflow_webhook_attempts_total",
			Help: "Webhook POSTs by the class of their answer (2xx, 4xx, 5xx, none) and what became of the delivery (delivered, pending: to be retried, failed).",
		}, []string{"answer", "delivery"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "expenseflow_webhook_attempt_duration_seconds",
			Help:    "How long a webhook POST took, answered or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	reg.MustRegister(m.attempts, m.duration)
	// Every series from zero, so a rate() sees the first attempt and a
	// dashboard shows 0 rather than nothing before any was made.
	for _, answer := range []string{"2xx", "3xx", "4xx", "5xx", "none"} {
		for _, delivery := range []string{domain.DeliveryDelivered, domain.DeliveryPending, domain.DeliveryFailed} {
			m.attempts.WithLabelValues(answer, delivery)
		}
	}
	return m
}

func (m *Metrics) observe(a domain.Attempt, deliveryStatus string) {
	if m == nil {
		return
	}
	answer := "none"
	if a.StatusCode > 0 {
		answer = strconv.Itoa(a.StatusCode/100) + "xx"
	}
	m.attempts.WithLabelValues(answer, deliveryStatus).Inc()
	m.duration.Observe(a.Duration.Seconds())
}
