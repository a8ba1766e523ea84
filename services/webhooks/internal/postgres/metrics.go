package postgres

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

var (
	deliveriesDesc = prometheus.NewDesc("expenseflow_webhook_deliveries",
		"Webhook deliveries by status: pending (on their way or waiting to retry) and failed (attempts exhausted, or the endpoint disabled).",
		[]string{"status"}, nil)
	overdueDesc = prometheus.NewDesc("expenseflow_webhook_oldest_due_seconds",
		"How long the longest-due pending delivery has been due (0 when none): grows when the dispatcher cannot keep up or is not running.", nil, nil)
	disabledDesc = prometheus.NewDesc("expenseflow_webhook_endpoints_disabled",
		"Endpoints disabled after sustained failure, waiting for finance.", nil, nil)
)

// BacklogCollector reports, on each scrape, what waits in the database.
type BacklogCollector struct{ db *gorm.DB }

// NewBacklogCollector returns the collector for the webhooks database db.
func NewBacklogCollector(db *gorm.DB) BacklogCollector { return BacklogCollector{db} }

func (c BacklogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveriesDesc
	ch <- overdueDesc
	ch <- disabledDesc
}

func (c BacklogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pending, failed, overdue, disabled float64
	err := c.db.WithContext(ctx).Raw(`SELECT
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'),
		(SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0) FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt_at < now()),
		(SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled')`).Row().Scan(&pending, &failed, &overdue, &disabled)
	if err != nil {
		return // /readyz reports the database; failing the whole scrape would hide every other series
	}
	ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, pending, "pending")
	ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, failed, "failed")
	ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, overdue)
	ch <- prometheus.MustNewConstMetric(disabledDesc, prometheus.GaugeValue, disabled)
}
