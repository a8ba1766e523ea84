package k8s_test

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/expenseflow/expenseflow/pkg/auth"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// The image's user (distroless "nonroot", deploy/Dockerfile).
const nonRootUID = 65532

// TestEveryTargetRendersAndDecodesStrictly renders the base and every
// overlay; render fails on a kustomize error, on an object no Go type here
// covers, and on any field its Go type does not have.
func TestEveryTargetRendersAndDecodesStrictly(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.dir, func(t *testing.T) {
			r := mustRender(t, tg)
			if len(r.rabbitmqs) != 1 || len(r.pgClusters) != 1 {
				t.Errorf("want one RabbitmqCluster and one CloudNativePG Cluster, got %d and %d", len(r.rabbitmqs), len(r.pgClusters))
			}
		})
	}
}

// TestEveryServiceIsDeployedHardened: each service is a Deployment of its
// own image, listening on its port, probed there, with resources and the
// restricted security context, behind a Service, a PDB and an HPA.
func TestEveryServiceIsDeployedHardened(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		for service, port := range services {
			t.Run(tg.dir+"/"+service, func(t *testing.T) {
				d, ok := r.deployments[service]
				if !ok {
					t.Fatalf("no Deployment %q", service)
				}
				pod := d.Spec.Template.Spec
				if len(pod.Containers) != 1 {
					t.Fatalf("want one container, got %d", len(pod.Containers))
				}
				c := pod.Containers[0]
				if repo, _, _ := strings.Cut(c.Image, ":"); repo != "expenseflow/"+service {
					t.Errorf("image %q, want expenseflow/%s (deploy/Dockerfile, SERVICE=%s)", c.Image, service, service)
				}
				if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port }) {
					t.Errorf("no container port %d", port)
				}
				if v, _ := r.lookupEnv(c, "HTTP_ADDR"); v != fmt.Sprintf(":%d", port) {
					t.Errorf("HTTP_ADDR %q, want :%d (the healthcheck subcommand reads it too)", v, port)
				}
				requireHTTPProbe(t, c, "liveness", c.LivenessProbe, "/healthz", port)
				requireHTTPProbe(t, c, "readiness", c.ReadinessProbe, "/readyz", port)
				requireHTTPProbe(t, c, "startup", c.StartupProbe, "/healthz", port)
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
						t.Errorf("%s request and limit must both be set: %+v", res, c.Resources)
					}
				}
				requireRestricted(t, pod, c)
				if d.Spec.Replicas != nil {
					t.Errorf("spec.replicas is set: the HPA owns the count, and every apply would reset it")
				}
				if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
					t.Errorf("the service never calls the API server: automountServiceAccountToken must be false")
				}

				podLabels := labels.Set(d.Spec.Template.Labels)
				svc, ok := r.services[service]
				if !ok || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
					t.Errorf("no Service %q selecting the pods", service)
				} else if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port || containerPort(c, svc.Spec.Ports[0].TargetPort) != port {
					t.Errorf("Service %q must expose port %d onto the container's %d: %+v", service, port, port, svc.Spec.Ports)
				}
				pdb, ok := r.pdbs[service]
				if !ok {
					t.Fatalf("no PodDisruptionBudget %q", service)
				}
				if sel, err := metav1LabelSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
					t.Errorf("PodDisruptionBudget %q does not select the pods (%v)", service, err)
				}
				hpa, ok := r.hpas[service]
				if !ok || hpa.Spec.ScaleTargetRef.Name != service {
					t.Errorf("no HorizontalPodAutoscaler scaling Deployment %q", service)
				}
			})
		}
	}
}

// TestHPAsScaleRenderedDeployments: an HPA whose target is misspelt scales
// nothing, and says so only in its status.
func TestHPAsScaleRenderedDeployments(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		for name, hpa := range r.hpas {
			ref := hpa.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || r.deployments[ref.Name] == nil {
				t.Errorf("%s: HPA %s targets %s %s %q, which is not rendered", tg.dir, name, ref.APIVersion, ref.Kind, ref.Name)
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
				t.Errorf("%s: HPA %s needs 1 <= minReplicas <= maxReplicas", tg.dir, name)
			}
			if len(hpa.Spec.Metrics) == 0 {
				t.Errorf("%s: HPA %s has no metric", tg.dir, name)
			}
		}
	}
}

// TestEveryVariableIsOneTheCodeReads: a variable the code does not read is
// a setting that silently does nothing. The only exceptions are variables
// taken from a Secret solely to be expanded, with $(NAME), into a later
// variable (AMQP_URL, DATABASE_URL); and every $(NAME) must name a
// variable defined before it, or Kubernetes leaves it verbatim.
func TestEveryVariableIsOneTheCodeReads(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		for service := range services {
			d := r.deployments[service]
			if d == nil {
				continue // reported by TestEveryServiceIsDeployedHardened
			}
			t.Run(tg.dir+"/"+service, func(t *testing.T) {
				read := readByService(t, service)
				c := d.Spec.Template.Spec.Containers[0]
				defined := map[string]bool{}
				for _, from := range c.EnvFrom {
					source, keys, ok := r.envFromKeys(from)
					if !ok {
						t.Errorf("envFrom %s: not rendered, so its variable names cannot be checked", source)
					}
					for _, k := range keys {
						if !read[from.Prefix+k] {
							t.Errorf("%s (envFrom %s) is not read by %s", from.Prefix+k, source, service)
						}
						defined[from.Prefix+k] = true
					}
				}
				expanded := map[string]bool{}
				for i, e := range c.Env {
					if slices.ContainsFunc(c.Env[:i], func(o corev1.EnvVar) bool { return o.Name == e.Name }) {
						t.Errorf("%s is set twice", e.Name)
					}
					for _, ref := range expansions(e.Value) {
						if !defined[ref] {
							t.Errorf("%s expands $(%s), which is not defined before it", e.Name, ref)
						}
						expanded[ref] = true
					}
					defined[e.Name] = true
				}
				for _, e := range c.Env {
					switch {
					case read[e.Name]:
					case expanded[e.Name] && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					default:
						t.Errorf("%s is not read by %s (nor a Secret value expanded into a variable it reads)", e.Name, service)
					}
				}
				if v, ok := r.lookupEnv(c, "DEV_MODE"); ok && v != "false" {
					t.Errorf("DEV_MODE=%q: the public development key must never be deployed", v)
				}
			})
		}
	}
}

// TestEveryReferenceResolves: each Secret, ConfigMap and key an object
// refers to is rendered, created by an operator for a rendered cluster, or
// one the target documents as made by hand. Otherwise the pod would wait
// in CreateContainerConfigError, or CloudNativePG would not create a role.
func TestEveryReferenceResolves(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.dir, func(t *testing.T) {
			r := mustRender(t, tg)
			requireKey := func(where, kind, name, key string, optional *bool) {
				t.Helper()
				lookup := r.secretKeys
				if kind == "ConfigMap" {
					lookup = r.configMapKeys
				}
				keys, ok := lookup(name)
				switch {
				case !ok && optional != nil && *optional:
				case !ok:
					t.Errorf("%s: %s %q is neither rendered, nor an operator's, nor documented as made by hand", where, kind, name)
				case key != "" && !slices.Contains(keys, key):
					t.Errorf("%s: %s %q has no key %q (it has %v)", where, kind, name, key, keys)
				}
			}
			for name, d := range r.deployments {
				pod := d.Spec.Template.Spec
				for _, c := range pod.Containers {
					where := "Deployment " + name
					for _, e := range c.Env {
						if e.ValueFrom == nil {
							continue
						}
						if ref := e.ValueFrom.SecretKeyRef; ref != nil {
							requireKey(where+" env "+e.Name, "Secret", ref.Name, ref.Key, ref.Optional)
						}
						if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
							requireKey(where+" env "+e.Name, "ConfigMap", ref.Name, ref.Key, ref.Optional)
						}
					}
					for _, from := range c.EnvFrom {
						if ref := from.SecretRef; ref != nil {
							requireKey(where+" envFrom", "Secret", ref.Name, "", ref.Optional)
						}
						if ref := from.ConfigMapRef; ref != nil {
							requireKey(where+" envFrom", "ConfigMap", ref.Name, "", ref.Optional)
						}
					}
					for _, m := range c.VolumeMounts {
						if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
							t.Errorf("%s mounts volume %q, which it does not declare", where, m.Name)
						}
					}
				}
				for _, v := range pod.Volumes {
					where := "Deployment " + name + " volume " + v.Name
					if s := v.Secret; s != nil {
						for _, item := range s.Items {
							requireKey(where, "Secret", s.SecretName, item.Key, s.Optional)
						}
						requireKey(where, "Secret", s.SecretName, "", s.Optional)
					}
					if cm := v.ConfigMap; cm != nil {
						for _, item := range cm.Items {
							requireKey(where, "ConfigMap", cm.Name, item.Key, cm.Optional)
						}
						requireKey(where, "ConfigMap", cm.Name, "", cm.Optional)
					}
				}
			}
			for name, cluster := range r.pgClusters {
				if cluster.Spec.Managed == nil {
					continue
				}
				for _, role := range cluster.Spec.Managed.Roles {
					if role.PasswordSecret == nil {
						t.Errorf("Cluster %s: role %s has no password Secret", name, role.Name)
						continue
					}
					where := "Cluster " + name + " role " + role.Name
					requireKey(where, "Secret", role.PasswordSecret.Name, "username", nil)
					requireKey(where, "Secret", role.PasswordSecret.Name, "password", nil)
					// CloudNativePG only accepts basic-auth Secrets whose
					// username is the role's name.
					if s, ok := r.secrets[role.PasswordSecret.Name]; ok {
						if s.Type != corev1.SecretTypeBasicAuth || secretValue(s, "username") != role.Name {
							t.Errorf("%s: Secret %s must be kubernetes.io/basic-auth with username %q", where, s.Name, role.Name)
						}
						if s.Labels["cnpg.io/reload"] != "true" {
							t.Errorf("%s: Secret %s lacks the label cnpg.io/reload=true, so a new password would not be applied", where, s.Name)
						}
					}
				}
			}
			for name, db := range r.pgDatabases {
				cluster, ok := r.pgClusters[db.Spec.ClusterRef.Name]
				if !ok {
					t.Errorf("Database %s: cluster %q is not rendered", name, db.Spec.ClusterRef.Name)
					continue
				}
				if managedRole(cluster, db.Spec.Owner) == nil {
					t.Errorf("Database %s: owner %q is not a managed role of %s", name, db.Spec.Owner, cluster.Name)
				}
			}
		})
	}
}

// TestConnectionURLsAreAssembledFromSecrets: AMQP_URL is built from the
// service's broker-user Secret (the one its User resource imports) and the
// host and port in the operator's default-user Secret, and
// DATABASE_URL reaches the service's own database on the primary, over
// verified TLS, as the role owning that database, with that role's Secret —
// except audit, which runs as a role that does not own it.
func TestConnectionURLsAreAssembledFromSecrets(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		for service := range services {
			d := r.deployments[service]
			if d == nil {
				continue
			}
			t.Run(tg.dir+"/"+service, func(t *testing.T) {
				pod := d.Spec.Template.Spec
				c := pod.Containers[0]

				amqp := parseExpanded(t, c, "AMQP_URL")
				var broker string
				for name := range r.rabbitmqs {
					broker = name
				}
				amqpPassword, _ := amqp.User.Password()
				// The service's own broker user, whose User resource
				// imports the same Secret; the operator's host and port.
				secret, user := topology.K8sSecretName(service), r.brokerUsers[topology.K8sSecretName(service)]
				if user == nil || user.Spec.ImportCredentialsSecret == nil || user.Spec.ImportCredentialsSecret.Name != secret {
					t.Errorf("no broker User %s importing its credentials from Secret %s", secret, secret)
				}
				requireFromSecret(t, c, "AMQP_URL", amqp, amqp.User.Username(), secret, "username")
				requireFromSecret(t, c, "AMQP_URL", amqp, amqpPassword, secret, "password")
				requireFromSecret(t, c, "AMQP_URL", amqp, amqp.Hostname(), broker+"-default-user", "host")
				requireFromSecret(t, c, "AMQP_URL", amqp, amqp.Port(), broker+"-default-user", "port")
				if amqp.Scheme != "amqp" || amqp.Path != "/" {
					t.Errorf("AMQP_URL %s: want amqp://…/ (the default vhost)", amqp.URL)
				}

				var cluster string
				for name := range r.pgClusters {
					cluster = name
				}
				owner := ""
				for _, pgdb := range r.pgDatabases {
					if pgdb.Spec.Name == service && pgdb.Spec.ClusterRef.Name == cluster {
						owner = pgdb.Spec.Owner
					}
				}
				// audit's database belongs to another role than the one it
				// runs as: an init container migrates as the owner, and the
				// service only checks (docs/security.md, "The audit log").
				// Every other service owns its database and migrates itself.
				runsAs := owner
				if service == "audit" {
					if owner == service || len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "migrate" {
						t.Fatalf("audit: want its database owned by another role (is %q), migrated by an init container \"migrate\"", owner)
					}
					migrate := pod.InitContainers[0]
					if v, _ := r.lookupEnv(migrate, "DATABASE_MIGRATIONS"); v != "apply-and-exit" {
						t.Errorf("init container migrate: DATABASE_MIGRATIONS=%q, want apply-and-exit", v)
					}
					if v, _ := r.lookupEnv(c, "DATABASE_MIGRATIONS"); v != "check" {
						t.Errorf("audit: DATABASE_MIGRATIONS=%q, want check", v)
					}
					requireDatabaseURL(t, r, pod, migrate, cluster, service, owner)
					runsAs = service
				} else if owner != service {
					t.Errorf("the database %s is owned by %q, not by the service's role", service, owner)
				}
				requireDatabaseURL(t, r, pod, c, cluster, service, runsAs)
			})
		}
	}
}

// requireDatabaseURL: c's DATABASE_URL reaches database dbName on the
// primary of cluster, over verified TLS, as the managed role, with that
// role's Secret.
func requireDatabaseURL(t *testing.T, r *rendered, pod corev1.PodSpec, c corev1.Container, cluster, dbName, role string) {
	t.Helper()
	db := parseExpanded(t, c, "DATABASE_URL")
	if db.Scheme != "postgres" || db.Hostname() != cluster+"-rw" || db.Port() != "5432" {
		t.Errorf("%s: DATABASE_URL %s: want postgres://…@%s-rw:5432/ (the primary)", c.Name, db.URL, cluster)
	}
	if got := strings.TrimPrefix(db.Path, "/"); got != dbName {
		t.Errorf("%s: DATABASE_URL names database %q, want %q", c.Name, got, dbName)
	}
	managed := managedRole(r.pgClusters[cluster], role)
	if managed == nil || managed.PasswordSecret == nil {
		t.Fatalf("%s: no managed role %q with a password Secret in %s", c.Name, role, cluster)
	}
	password, _ := db.User.Password()
	requireFromSecret(t, c, "DATABASE_URL", db, db.User.Username(), managed.PasswordSecret.Name, "username")
	requireFromSecret(t, c, "DATABASE_URL", db, password, managed.PasswordSecret.Name, "password")
	q := db.Query()
	if q.Get("sslmode") != "verify-full" {
		t.Errorf("%s: DATABASE_URL sslmode=%q, want verify-full", c.Name, q.Get("sslmode"))
	}
	if !mountsSecretFile(pod, c, q.Get("sslrootcert"), cluster+"-ca", "ca.crt") {
		t.Errorf("%s: sslrootcert %q is not the ca.crt of Secret %s-ca mounted into the container", c.Name, q.Get("sslrootcert"), cluster)
	}
}

// TestQueuesAreQuorum: in a RabbitMQ cluster only quorum queues are
// replicated; a classic queue lives on one node and goes with it. The broker
// setup Job declares every queue, with the type it is given.
func TestQueuesAreQuorum(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		job := r.jobs["broker-setup"]
		if job == nil {
			t.Fatalf("%s: no broker-setup Job: nothing declares the queues", tg.dir)
		}
		if v, _ := r.lookupEnv(job.Spec.Template.Spec.Containers[0], "AMQP_QUEUE_TYPE"); v != "quorum" {
			t.Errorf("%s/broker-setup: AMQP_QUEUE_TYPE=%q, want quorum", tg.dir, v)
		}
	}
}

// TestShutdownFitsTheGracePeriod: Kubernetes sends SIGKILL after
// terminationGracePeriodSeconds, counted from the start of preStop. The
// service needs the preStop pause, then SHUTDOWN_GRACE for HTTP requests,
// then time to finish the message a consumer is handling.
func TestShutdownFitsTheGracePeriod(t *testing.T) {
	const forConsumers = 10 * time.Second
	for _, tg := range targets {
		r := mustRender(t, tg)
		for service := range services {
			d := r.deployments[service]
			if d == nil {
				continue
			}
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			grace := 20 * time.Second // platform.Config's default
			if v, ok := r.lookupEnv(c, "SHUTDOWN_GRACE"); ok {
				var err error
				if grace, err = time.ParseDuration(v); err != nil {
					t.Fatalf("%s/%s: SHUTDOWN_GRACE %q: %v", tg.dir, service, v, err)
				}
			}
			var pause time.Duration
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
				t.Errorf("%s/%s: no preStop sleep: requests would still arrive after SIGTERM closed the listener", tg.dir, service)
			} else {
				pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
			need := pause + grace + forConsumers
			if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second < need {
				t.Errorf("%s/%s: terminationGracePeriodSeconds must be at least %v (preStop %v + SHUTDOWN_GRACE %v + %v for consumers)",
					tg.dir, service, need, pause, grace, forConsumers)
			}
		}
	}
}

// TestProdIsHighlyAvailableAndHoldsNoSecret: three replicas of the broker
// and the database (a quorum survives one loss), commits acknowledged by a
// standby, two instances of every service, pinned images, and no Secret
// value in git.
func TestProdIsHighlyAvailableAndHoldsNoSecret(t *testing.T) {
	r := mustRender(t, prod)
	for name, rmq := range r.rabbitmqs {
		if rmq.Spec.Replicas == nil || *rmq.Spec.Replicas < 3 || *rmq.Spec.Replicas%2 == 0 {
			t.Errorf("RabbitmqCluster %s: replicas %s, want an odd number >= 3", name, fmtPtr(rmq.Spec.Replicas))
		}
	}
	for name, pg := range r.pgClusters {
		if pg.Spec.Instances < 3 {
			t.Errorf("Cluster %s: %d instances, want >= 3", name, pg.Spec.Instances)
		}
		if s := pg.Spec.PostgresConfiguration.Synchronous; s == nil || s.Number < 1 {
			t.Errorf("Cluster %s: no synchronous replication, so a failover may lose committed events", name)
		}
	}
	for name, hpa := range r.hpas {
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
			t.Errorf("HPA %s: minReplicas must be >= 2 in prod", name)
		}
	}
	for name, d := range r.deployments {
		if _, tag, ok := strings.Cut(d.Spec.Template.Spec.Containers[0].Image, ":"); !ok || tag == "latest" {
			t.Errorf("Deployment %s: image %q must be pinned to a release", name, d.Spec.Template.Spec.Containers[0].Image)
		}
	}
	if len(r.secrets) != 0 {
		t.Errorf("prod renders Secrets %v: secrets are created in the cluster, never committed", sortedKeys(r.secrets))
	}
}

// TestDevRunsOneOfEachWithValidDevSecrets: the dev overlay patches the
// custom resources (kustomize's `replicas:` would not), and generates
// exactly the Secrets prod expects to exist, with values the services
// accept.
func TestDevRunsOneOfEachWithValidDevSecrets(t *testing.T) {
	r := mustRender(t, dev)
	for name, rmq := range r.rabbitmqs {
		if rmq.Spec.Replicas == nil || *rmq.Spec.Replicas != 1 {
			t.Errorf("RabbitmqCluster %s: want 1 replica in dev", name)
		}
	}
	for name, pg := range r.pgClusters {
		if pg.Spec.Instances != 1 {
			t.Errorf("Cluster %s: want 1 instance in dev", name)
		}
	}
	if !slices.Equal(sortedKeys(r.secrets), sortedKeys(handMadeSecrets)) {
		t.Errorf("dev generates Secrets %v; prod expects %v", sortedKeys(r.secrets), sortedKeys(handMadeSecrets))
	}
	jwt := r.secrets["expenseflow-jwt"]
	if v := secretValue(jwt, "jwt-secret"); len(v) < auth.MinSecretLength || !strings.Contains(v, "DEV-ONLY") {
		t.Errorf("the dev JWT secret must be >= %d bytes and marked DEV-ONLY, got %q", auth.MinSecretLength, v)
	}
	for name, s := range r.secrets {
		if p := secretValue(s, "password"); p != "" && url.UserPassword("u", p).String() != "u:"+p {
			t.Errorf("Secret %s: the password must be URL-safe, it is spliced into DATABASE_URL", name)
		}
	}
}

// --- helpers ---

// expansion matches a $(NAME) reference; "$$" escapes one.
var expansion = regexp.MustCompile(`\$\(([^)]+)\)`)

func expansions(value string) []string {
	var refs []string
	for _, m := range expansion.FindAllStringSubmatch(strings.ReplaceAll(value, "$$", ""), -1) {
		refs = append(refs, m[1])
	}
	return refs
}

// expandedURL is a URL assembled with $(REF) references, each replaced by
// a distinct number (valid as user, password, host or port alike) so that
// url.Parse splits it and each part can be traced back to its variable.
type expandedURL struct {
	*url.URL
	refs map[string]string // number -> variable name
}

func parseExpanded(t *testing.T, c corev1.Container, name string) expandedURL {
	t.Helper()
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 || c.Env[i].ValueFrom != nil {
		t.Fatalf("%s must be set as a value assembled with $(VAR) references", name)
	}
	refs := map[string]string{}
	numbered := expansion.ReplaceAllStringFunc(c.Env[i].Value, func(ref string) string {
		n := fmt.Sprint(60001 + len(refs))
		refs[n] = expansion.FindStringSubmatch(ref)[1]
		return n
	})
	u, err := url.Parse(numbered)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return expandedURL{u, refs}
}

// requireFromSecret checks that part of u is exactly one $(REF) whose
// variable comes from key of Secret secret.
func requireFromSecret(t *testing.T, c corev1.Container, urlVar string, u expandedURL, part, secret, key string) {
	t.Helper()
	ref, ok := u.refs[part]
	if !ok {
		t.Errorf("%s: %q must be exactly one $(VAR) taken from Secret %s key %s", urlVar, part, secret, key)
		return
	}
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == ref })
	if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil ||
		c.Env[i].ValueFrom.SecretKeyRef.Name != secret || c.Env[i].ValueFrom.SecretKeyRef.Key != key {
		t.Errorf("%s: $(%s) must come from Secret %s key %s", urlVar, ref, secret, key)
	}
}

// lookupEnv returns the value a container sees for name, as the kubelet
// builds the environment (env over envFrom, later envFrom over earlier),
// for values written out or taken from a rendered ConfigMap.
func (r *rendered) lookupEnv(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom == nil {
			return e.Value, true
		}
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil && r.configMaps[ref.Name] != nil {
			v, ok := r.configMaps[ref.Name].Data[ref.Key]
			return v, ok
		}
		return "", false
	}
	for _, from := range slices.Backward(c.EnvFrom) {
		if ref := from.ConfigMapRef; ref != nil && r.configMaps[ref.Name] != nil {
			if v, ok := r.configMaps[ref.Name].Data[strings.TrimPrefix(name, from.Prefix)]; ok && strings.HasPrefix(name, from.Prefix) {
				return v, true
			}
		}
	}
	return "", false
}

// envFromKeys names an envFrom source and returns the variable names
// (before the prefix) it defines, if it is rendered.
func (r *rendered) envFromKeys(from corev1.EnvFromSource) (string, []string, bool) {
	if ref := from.ConfigMapRef; ref != nil {
		cm, ok := r.configMaps[ref.Name]
		if !ok {
			return "ConfigMap " + ref.Name, nil, false
		}
		return "ConfigMap " + ref.Name, sortedKeys(cm.Data), true
	}
	if ref := from.SecretRef; ref != nil {
		s, ok := r.secrets[ref.Name]
		if !ok {
			return "Secret " + ref.Name, nil, false
		}
		return "Secret " + ref.Name, sortedKeys(s.Data), true
	}
	return "(empty)", nil, false
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func requireHTTPProbe(t *testing.T, c corev1.Container, kind string, p *corev1.Probe, path string, port int32) {
	t.Helper()
	switch {
	case p == nil || p.HTTPGet == nil:
		t.Errorf("%s probe: want GET %s", kind, path)
	case p.HTTPGet.Path != path || containerPort(c, p.HTTPGet.Port) != port:
		t.Errorf("%s probe: GET %s on port %s, want %s on %d", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, port)
	}
}

// containerPort resolves a port given by number or by the container
// port's name.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// requireRestricted checks the restricted Pod Security Standard, and the
// image's non-root user.
func requireRestricted(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != nonRootUID {
		t.Errorf("pod securityContext must have runAsNonRoot and runAsUser %d", nonRootUID)
	}
	if ps == nil || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext must use the RuntimeDefault seccomp profile")
	}
	switch {
	case cs == nil:
		t.Errorf("container has no securityContext")
	case cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem:
		t.Errorf("container root filesystem must be read-only")
	case cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation:
		t.Errorf("container must not allow privilege escalation")
	case cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0:
		t.Errorf("container must drop ALL capabilities and add none")
	case cs.Privileged != nil && *cs.Privileged:
		t.Errorf("container must not be privileged")
	}
}

// mountsSecretFile reports whether file is key of Secret secret, mounted
// read-only into c.
func mountsSecretFile(pod corev1.PodSpec, c corev1.Container, file, secret, key string) bool {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok || !m.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil || v.Secret.SecretName != secret {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return rel == key
			}
			for _, item := range v.Secret.Items {
				if item.Key == key && path.Clean(item.Path) == rel {
					return true
				}
			}
		}
	}
	return false
}

// managedRole returns the managed role called name of cluster, or nil.
func managedRole(cluster *cnpgv1.Cluster, name string) *cnpgv1.RoleConfiguration {
	if cluster == nil || cluster.Spec.Managed == nil {
		return nil
	}
	for i, role := range cluster.Spec.Managed.Roles {
		if role.Name == name {
			return &cluster.Spec.Managed.Roles[i]
		}
	}
	return nil
}

func metav1LabelSelector(sel *metav1.LabelSelector) (labels.Selector, error) {
	if sel == nil {
		return nil, fmt.Errorf("no selector")
	}
	return metav1.LabelSelectorAsSelector(sel)
}

// secretValue returns a Secret's value for key, from data or stringData.
func secretValue(s *corev1.Secret, key string) string {
	if s == nil {
		return ""
	}
	if v, ok := s.StringData[key]; ok {
		return v
	}
	return string(s.Data[key])
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestEveryBrokerUserIsDeclared: each user of the bus (pkg/topology) is a
// User importing a Secret an overlay provides, with its Permission and, for
// a publisher, its TopicPermission, all naming the rendered cluster.
func TestEveryBrokerUserIsDeclared(t *testing.T) {
	for _, tg := range targets {
		r := mustRender(t, tg)
		for _, u := range topology.Users() {
			name := topology.K8sSecretName(u.Name)
			user, perm, topic := r.brokerUsers[name], r.brokerPermissions[name], r.topicPermissions[name]
			if user == nil || perm == nil || (u.Publish != "") != (topic != nil) {
				t.Errorf("%s: broker user %s: User %v, Permission %v, TopicPermission %v", tg.dir, u.Name, user != nil, perm != nil, topic != nil)
				continue
			}
			if _, ok := handMadeSecrets[user.Spec.ImportCredentialsSecret.Name]; !ok {
				t.Errorf("%s: User %s imports Secret %s, which no overlay is told to provide", tg.dir, name, user.Spec.ImportCredentialsSecret.Name)
			}
			if perm.Spec.Permissions.Read != u.Read || perm.Spec.Permissions.Write != u.Write || perm.Spec.Permissions.Configure != u.Configure {
				t.Errorf("%s: Permission %s differs from pkg/topology: run `make broker-files`", tg.dir, name)
			}
			if _, ok := r.rabbitmqs[user.Spec.RabbitmqClusterReference.Name]; !ok {
				t.Errorf("%s: User %s names cluster %q, which is not rendered", tg.dir, name, user.Spec.RabbitmqClusterReference.Name)
			}
		}
	}
}
