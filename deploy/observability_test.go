package deploy_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
)

const observabilityDir = "observability"

// TestObservabilityConfig checks the configuration files of the
// observability profile against docker-compose.yml: Prometheus scrapes
// exactly the five services on their ports, and RabbitMQ; the collector takes
// OTLP where the services send it and exports to Jaeger; Grafana's data
// source, dashboard provider and home dashboard are where compose mounts them,
// and every panel queries that data source. Whether the queries name metrics
// that exist is checked against running services in
// TestComposeStackRunsTheRealBinaries.
func TestObservabilityConfig(t *testing.T) {
	project := loadProject(t, nil, "observability")

	t.Run("prometheus", func(t *testing.T) {
		var cfg struct {
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				MetricsPath   string `yaml:"metrics_path"`
				StaticConfigs []struct {
					Targets []string          `yaml:"targets"`
					Labels  map[string]string `yaml:"labels"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		readYAML(t, mountedAt(t, project.Services["prometheus"], "/etc/prometheus/prometheus.yml"), &cfg)
		want := map[string]bool{"rabbitmq:15692": true} // the rabbitmq_prometheus plugin's port
		for _, name := range services {
			want[name+":"+itoa(project.Services[name].Ports[0].Target)] = true
		}
		scraped := map[string]bool{}
		for _, job := range cfg.ScrapeConfigs {
			for _, sc := range job.StaticConfigs {
				for _, target := range sc.Targets {
					if scraped[target] {
						t.Errorf("%s is scraped twice", target)
					}
					scraped[target] = true
					host, _, _ := net.SplitHostPort(target)
					switch {
					case host == "rabbitmq" && job.MetricsPath != "/metrics/per-object":
						t.Errorf("rabbitmq: scrape /metrics/per-object for per-queue series, not %q", job.MetricsPath)
					case host != "rabbitmq" && (job.MetricsPath != "" && job.MetricsPath != "/metrics"):
						t.Errorf("%s: the services serve GET /metrics, not %q", target, job.MetricsPath)
					case host != "rabbitmq" && sc.Labels["service"] != host:
						t.Errorf("%s: label service=%q, want %q (the dashboard groups by it)", target, sc.Labels["service"], host)
					}
				}
			}
		}
		if !maps.Equal(scraped, want) {
			t.Errorf("prometheus.yml scrapes %v, want exactly %v", slices.Sorted(maps.Keys(scraped)), slices.Sorted(maps.Keys(want)))
		}
	})

	t.Run("otel-collector", func(t *testing.T) {
		ports := collectorPorts(t, project)
		for protocol, port := range map[string]int{"grpc": 4317, "http": 4318} {
			if ports[protocol] != port || !publishes(project.Services["otel-collector"], uint32(port)) {
				t.Errorf("the collector's OTLP/%s receiver is on port %d and must be published on %d", protocol, ports[protocol], port)
			}
		}
		var cfg collectorConfig
		readYAML(t, collectorConfigFile(t, project), &cfg)
		traces := cfg.Service.Pipelines["traces"]
		if !slices.Contains(traces.Receivers, "otlp") {
			t.Errorf("the traces pipeline does not take OTLP: receivers %v", traces.Receivers)
		}
		// Jaeger takes OTLP/gRPC on 4317 and OTLP/HTTP on 4318.
		jaegerPort := map[string]string{"otlp": "4317", "otlphttp": "4318"}
		toJaeger := false
		for _, name := range traces.Exporters {
			u := cfg.Exporters[name].Endpoint
			if !strings.Contains(u, "://") {
				u = "//" + u
			}
			endpoint, err := url.Parse(u)
			kind, _, _ := strings.Cut(name, "/")
			if err == nil && endpoint.Hostname() == "jaeger" && endpoint.Port() == jaegerPort[kind] {
				toJaeger = true
			}
		}
		if _, ok := project.Services["jaeger"]; !ok || !toJaeger {
			t.Errorf("the traces pipeline does not export to the jaeger service: exporters %v", traces.Exporters)
		}
	})

	t.Run("grafana", func(t *testing.T) {
		grafana := project.Services["grafana"]
		var sources struct {
			Datasources []struct {
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
				URL  string `yaml:"url"`
			} `yaml:"datasources"`
		}
		provisioning := mountedAt(t, grafana, "/etc/grafana/provisioning")
		readYAML(t, filepath.Join(provisioning, "datasources", "datasources.yaml"), &sources)
		wantURL := map[string]string{"prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}
		for _, ds := range sources.Datasources {
			if ds.URL != wantURL[ds.Type] {
				t.Errorf("the %s data source points at %q, want %q", ds.Type, ds.URL, wantURL[ds.Type])
			}
			delete(wantURL, ds.Type)
		}
		if len(wantURL) > 0 {
			t.Errorf("no data source for %v", slices.Sorted(maps.Keys(wantURL)))
		}

		var providers struct {
			Providers []struct {
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		readYAML(t, filepath.Join(provisioning, "dashboards", "dashboards.yaml"), &providers)
		if len(providers.Providers) != 1 {
			t.Fatalf("want one dashboard provider, got %d", len(providers.Providers))
		}
		dashboards := mountedAt(t, grafana, providers.Providers[0].Options.Path)
		if rel, err := filepath.Rel(".", dashboards); err != nil || rel != filepath.Join(observabilityDir, "grafana", "dashboards") {
			t.Errorf("the dashboard provider reads %s, where compose mounts %s", providers.Providers[0].Options.Path, dashboards)
		}
		home := *grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
		if !strings.HasPrefix(home, providers.Providers[0].Options.Path+"/") {
			t.Errorf("the home dashboard %s is not in the provisioned directory", home)
		} else if _, err := os.Stat(filepath.Join(dashboards, strings.TrimPrefix(home, providers.Providers[0].Options.Path))); err != nil {
			t.Errorf("the home dashboard: %v", err)
		}

		for _, p := range loadDashboard(t) {
			if p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
				t.Errorf("panel %q: no query, or not on the provisioned Prometheus data source (uid %q)", p.Title, p.Datasource.UID)
			}
		}
	})
}

type collectorConfig struct {
	Receivers struct {
		OTLP struct {
			Protocols map[string]struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"protocols"`
		} `yaml:"otlp"`
	} `yaml:"receivers"`
	Exporters map[string]struct {
		Endpoint string `yaml:"endpoint"`
	} `yaml:"exporters"`
	Service struct {
		Pipelines map[string]struct {
			Receivers []string `yaml:"receivers"`
			Exporters []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

// collectorConfigFile is the collector configuration compose gives it: the
// file mounted where its --config flag points.
func collectorConfigFile(t *testing.T, project *types.Project) string {
	t.Helper()
	svc := project.Services["otel-collector"]
	for _, arg := range svc.Command {
		if path, ok := strings.CutPrefix(arg, "--config="); ok {
			return mountedAt(t, svc, path)
		}
	}
	t.Fatalf("otel-collector: no --config= in its command %v", svc.Command)
	return ""
}

// collectorPorts are the ports of the collector's OTLP receiver, by protocol.
func collectorPorts(t *testing.T, project *types.Project) map[string]int {
	t.Helper()
	var cfg collectorConfig
	readYAML(t, collectorConfigFile(t, project), &cfg)
	ports := map[string]int{}
	for protocol, p := range cfg.Receivers.OTLP.Protocols {
		_, port, err := net.SplitHostPort(p.Endpoint)
		if err != nil {
			t.Fatalf("OTLP/%s receiver endpoint %q: %v", protocol, p.Endpoint, err)
		}
		ports[protocol], _ = strconv.Atoi(port)
	}
	return ports
}

// mountedAt is the file or directory of this repository that svc mounts at
// target.
func mountedAt(t *testing.T, svc types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			rel, err := filepath.Rel(mustAbs(t, "."), v.Source)
			if err != nil {
				t.Fatal(err)
			}
			return rel
		}
	}
	t.Fatalf("%s mounts nothing at %s", svc.Name, target)
	return ""
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// panel is what the test reads of a Grafana dashboard panel.
type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// loadDashboard parses the dashboard and returns its panels, rows left out.
func loadDashboard(t *testing.T) []panel {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(observabilityDir, "grafana", "dashboards", "expenseflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("expenseflow.json: %v", err)
	}
	var panels []panel
	for _, p := range d.Panels {
		if p.Type == "row" {
			panels = append(panels, p.Panels...)
		} else {
			panels = append(panels, p)
		}
	}
	if d.UID == "" || len(panels) == 0 {
		t.Fatal("expenseflow.json: no uid or no panels")
	}
	return panels
}

// rabbitmqSeries are the RabbitMQ series the dashboard may use, with their
// labels, as the rabbitmq_prometheus plugin serves them on
// /metrics/per-object (the "Queues" table of deps/rabbitmq_prometheus/
// metrics.md in rabbitmq-server; the names are the same from 3.8 to 4.x).
// They are a fixed list because the broker the tests share does not run
// that plugin.
var rabbitmqSeries = map[string][]string{
	"rabbitmq_queue_messages":         {"vhost", "queue"},
	"rabbitmq_queue_messages_ready":   {"vhost", "queue"},
	"rabbitmq_queue_messages_unacked": {"vhost", "queue"},
	"rabbitmq_queue_consumers":        {"vhost", "queue"},
}

// dashboardMetrics must each appear in some query: the panels the dashboard
// exists for.
var dashboardMetrics = []string{
	"http_requests_total", "http_request_duration_seconds_bucket",
	"expenseflow_handler_execution_time_seconds_count", "expenseflow_subscriber_messages_received_total",
	"expenseflow_outbox_backlog_messages", "expenseflow_outbox_oldest_unrelayed_age_seconds",
	"rabbitmq_queue_messages_ready", "expenseflow_dead_letters_total",
}

// checkDashboard requires every series a dashboard query names to be one the
// services expose (exposed: name → label names, from their /metrics) or a
// RabbitMQ series, and every label the query matches or groups by to be on
// one of its series or added by Prometheus (job, instance, and the static
// labels of prometheus.yml).
func checkDashboard(t *testing.T, exposed map[string]map[string]bool) {
	t.Helper()
	known := map[string]map[string]bool{}
	for name, labels := range exposed {
		known[name] = labels
	}
	for name, labels := range rabbitmqSeries {
		known[name] = map[string]bool{}
		for _, l := range labels {
			known[name][l] = true
		}
	}
	scrapeLabels := map[string]bool{"job": true, "instance": true, "service": true}
	used := map[string]bool{}
	for _, p := range loadDashboard(t) {
		for _, target := range p.Targets {
			metrics, labels := parseQuery(target.Expr)
			if len(metrics) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, target.Expr)
			}
			for _, m := range metrics {
				used[m] = true
				if known[m] == nil {
					t.Errorf("panel %q: no service exposes %s", p.Title, m)
				}
			}
			for _, l := range labels {
				if !scrapeLabels[l] && !slices.ContainsFunc(metrics, func(m string) bool { return known[m][l] }) {
					t.Errorf("panel %q: label %q is on none of %v", p.Title, l, metrics)
				}
			}
		}
	}
	for _, m := range dashboardMetrics {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// The PromQL the dashboard uses, taken apart just enough to find the series
// and label names it refers to (no PromQL parser is in the module graph).
var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promNumber   = regexp.MustCompile(`\b\d+(?:\.\d+)?\b`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][\w:]*`)
	// promWords are the functions, aggregations and keywords the dashboard
	// may use: any other name in a query is taken for a series, so a new
	// function must be added here.
	promWords = map[string]bool{
		"sum": true, "max": true, "min": true, "avg": true, "count": true, "topk": true,
		"rate": true, "irate": true, "increase": true, "histogram_quantile": true, "clamp_min": true,
		"and": true, "or": true, "unless": true,
	}
)

// parseQuery returns the series and label names of a PromQL expression.
func parseQuery(expr string) (metrics, labels []string) {
	s := promString.ReplaceAllString(expr, `""`)
	for _, m := range promMatchers.FindAllStringSubmatch(s, -1) {
		for _, l := range promMatcher.FindAllStringSubmatch(m[1], -1) {
			labels = append(labels, l[1])
		}
	}
	s = promMatchers.ReplaceAllString(s, " ")
	for _, g := range promGrouping.FindAllStringSubmatch(s, -1) {
		for _, l := range strings.Split(g[1], ",") {
			labels = append(labels, strings.TrimSpace(l))
		}
	}
	s = promGrouping.ReplaceAllString(s, " ")
	s = promNumber.ReplaceAllString(promRange.ReplaceAllString(s, " "), " ")
	for _, id := range promIdent.FindAllString(s, -1) {
		if !promWords[id] {
			metrics = append(metrics, id)
		}
	}
	return metrics, labels
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct{ expr, metrics, labels string }{
		{`rate(http_requests_total[5m])`, "http_requests_total", ""},
		{`sum by (service, route) (rate(a_total{status=~"5..", x!="}"}[$__rate_interval]))`, "a_total", "status x service route"},
		{`histogram_quantile(0.95, sum by (le) (rate(b_bucket[1m])))`, "b_bucket", "le"},
		{`max(c) / on (job) group_left (d) sum(e) or vector1`, "c e vector1", "job d"},
	} {
		m, l := parseQuery(tc.expr)
		if strings.Join(m, " ") != tc.metrics || strings.Join(l, " ") != tc.labels {
			t.Errorf("%s: metrics %q labels %q, want %q and %q", tc.expr, m, l, tc.metrics, tc.labels)
		}
	}
}

// scrapeInto adds the series of a Prometheus text page to exposed: name →
// label names.
func scrapeInto(t *testing.T, target string, exposed map[string]map[string]bool) {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	labelName := regexp.MustCompile(`([a-zA-Z_]\w*)="`)
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		name := line[:end]
		if exposed[name] == nil {
			exposed[name] = map[string]bool{}
		}
		if line[end] == '{' {
			for _, l := range labelName.FindAllStringSubmatch(line[end:strings.LastIndexByte(line, '}')], -1) {
				exposed[name][l[1]] = true
			}
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
}

// otlpReceiver stands in for the collector: an OTLP/HTTP endpoint
// (POST /v1/traces, protobuf, the SDK's default protocol) that keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service, name, traceID string
}

// startOTLPReceiver starts a receiver and returns it with its base URL.
func startOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	r := &otlpReceiver{}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(req.Body)
	var export coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &export)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		var service string
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, receivedSpan{service: service, name: s.Name, traceID: hex.EncodeToString(s.TraceId)})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// servicesInTraceOf returns the services with spans in the trace of the
// span name of service that has the most of them.
func (r *otlpReceiver) servicesInTraceOf(service, name string) map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best map[string]bool
	for _, root := range r.spans {
		if root.service != service || root.name != name {
			continue
		}
		in := map[string]bool{}
		for _, s := range r.spans {
			if s.traceID == root.traceID {
				in[s.service] = true
			}
		}
		if len(in) > len(best) {
			best = in
		}
	}
	return best
}
