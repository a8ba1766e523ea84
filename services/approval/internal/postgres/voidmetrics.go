package postgres

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/expenseflow/expenseflow/services/approval/internal/domain"
)

var (
	voidsRunningDesc = prometheus.NewDesc("expenseflow_void_sagas_running",
		"Void sagas not finished yet.", nil, nil)
	voidsStuckDesc = prometheus.NewDesc("expenseflow_void_sagas_stuck",
		"Void sagas whose current step was sent the maximum number of times without an answer: a person must look.", nil, nil)
)

// VoidCollector reports the void sagas when Prometheus scrapes (one query
// per scrape): a stuck saga is an alert (docs/production.md).
type VoidCollector struct{ db *gorm.DB }

// NewVoidCollector returns the collector of the sagas in db.
func NewVoidCollector(db *gorm.DB) VoidCollector { return VoidCollector{db} }

func (c VoidCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- voidsRunningDesc
	ch <- voidsStuckDesc
}

func (c VoidCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n struct{ Running, Stuck int64 }
	err := c.db.WithContext(ctx).Raw(`SELECT count(*) AS running, count(*) FILTER (WHERE sends >= ?) AS stuck FROM voids WHERE step <> ?`,
		domain.MaxVoidSends, domain.StepDone).Scan(&n).Error
	if err != nil {
		ch <- prometheus.NewInvalidMetric(voidsRunningDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(voidsRunningDesc, prometheus.GaugeValue, float64(n.Running))
	ch <- prometheus.MustNewConstMetric(voidsStuckDesc, prometheus.GaugeValue, float64(n.Stuck))
}
