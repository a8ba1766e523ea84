package k8s_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/expenseflow/expenseflow/pkg/brokerfiles"
)

// target is one kustomization the tests render, and what it relies on
// without rendering it: objects a person creates before the first apply
// (documented in the prod overlay and docs/production.md). Objects the
// operators create are derived from the rendered clusters instead (see
// operatorSecrets), so renaming a cluster breaks the references visibly.
type target struct {
	dir                string
	externalSecrets    map[string][]string // name -> keys it must have
	externalConfigMaps map[string][]string
}

// handMadeSecrets are the Secrets the base refers to and an overlay must
// provide: dev generates them, prod expects them to exist.
var handMadeSecrets = map[string][]string{
	"expenseflow-jwt":              {"jwt-secret"},
	"expenseflow-db-approval":      {"username", "password"},
	"expenseflow-db-accounting":    {"username", "password"},
	"expenseflow-db-reimbursement": {"username", "password"},
	"expenseflow-db-notification":  {"username", "password"},
	"expenseflow-db-audit":         {"username", "password"},
	"expenseflow-db-audit-owner":   {"username", "password"},
	"expenseflow-db-webhooks":      {"username", "password"},
	// The broker users' credentials, imported by the topology operator.
	"expenseflow-broker-approval":      {"username", "password"},
	"expenseflow-broker-accounting":    {"username", "password"},
	"expenseflow-broker-reimbursement": {"username", "password"},
	"expenseflow-broker-notification":  {"username", "password"},
	"expenseflow-broker-audit":         {"username", "password"},
	"expenseflow-broker-webhooks":      {"username", "password"},
	"expenseflow-broker-operator":      {"username", "password"},
	"expenseflow-broker-console":       {"username", "password"},
	// Approval's service key, and the public keys accounting verifies with.
	"expenseflow-service-key-approval": {"signing-key"},
	"expenseflow-service-public-keys":  {"approval"},
}

var (
	base = target{dir: "base", externalSecrets: handMadeSecrets}
	dev  = target{dir: "overlays/dev"}
	prod = target{
		dir:                "overlays/prod",
		externalSecrets:    handMadeSecrets,
		externalConfigMaps: map[string][]string{"expenseflow-user-directory": {"users.json"}},
	}
	targets = []target{base, dev, prod}
)

// rendered is a kustomization's output, each object decoded into the Go
// type its operator or Kubernetes itself decodes it into, by name.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	services    map[string]*corev1.Service
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	namespaces  map[string]*corev1.Namespace
	rabbitmqs   map[string]*rabbitmqv1beta1.RabbitmqCluster
	pgClusters  map[string]*cnpgv1.Cluster
	pgDatabases map[string]*cnpgv1.Database
	// The Messaging Topology Operator's resources, decoded into the
	// mirror of its API in pkg/topology (its module is not ours to use).
	brokerUsers       map[string]*brokerfiles.MTOUser
	brokerPermissions map[string]*brokerfiles.MTOPermission
	topicPermissions  map[string]*brokerfiles.MTOTopicPermission
	target            target
}

// renders renders each target once; every test reads the same result.
var renders = func() map[string]func() (*rendered, error) {
	m := map[string]func() (*rendered, error){}
	for _, tg := range targets {
		m[tg.dir] = sync.OnceValues(func() (*rendered, error) { return render(tg) })
	}
	return m
}()

// mustRender returns the target rendered, or fails the test.
func mustRender(t *testing.T, tg target) *rendered {
	t.Helper()
	r, err := renders[tg.dir]()
	if err != nil {
		t.Fatalf("%s: %v", tg.dir, err)
	}
	return r
}

// render runs kustomize in-process on the real files, as `kustomize build`
// would, and strictly decodes every object: a misspelt or misplaced field
// is an unknown field and fails, where kubectl might only warn and an
// operator would silently ignore it.
func render(tg target) (*rendered, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.FromSlash(tg.dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		jobs:       map[string]*batchv1.Job{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		namespaces: map[string]*corev1.Namespace{}, rabbitmqs: map[string]*rabbitmqv1beta1.RabbitmqCluster{},
		pgClusters: map[string]*cnpgv1.Cluster{}, pgDatabases: map[string]*cnpgv1.Database{},
		brokerUsers: map[string]*brokerfiles.MTOUser{}, brokerPermissions: map[string]*brokerfiles.MTOPermission{},
		topicPermissions: map[string]*brokerfiles.MTOTopicPermission{},
		target:           tg,
	}
	for _, res := range resources.Resources() {
		doc, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		kind, name := res.GetApiVersion()+" "+res.GetKind(), res.GetName()
		if err := r.add(kind, name, doc); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, name, err)
		}
	}
	return r, nil
}

// add decodes one object into its Go type. A kind without a Go type here
// fails: nothing is rendered unchecked.
func (r *rendered) add(kind, name string, doc []byte) error {
	switch kind {
	case "apps/v1 Deployment":
		return decode(doc, name, r.deployments)
	case "batch/v1 Job":
		return decode(doc, name, r.jobs)
	case "v1 Service":
		return decode(doc, name, r.services)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return decode(doc, name, r.hpas)
	case "policy/v1 PodDisruptionBudget":
		return decode(doc, name, r.pdbs)
	case "v1 ConfigMap":
		return decode(doc, name, r.configMaps)
	case "v1 Secret":
		return decode(doc, name, r.secrets)
	case "v1 Namespace":
		return decode(doc, name, r.namespaces)
	case "rabbitmq.com/v1beta1 RabbitmqCluster":
		return decode(doc, name, r.rabbitmqs)
	case "postgresql.cnpg.io/v1 Cluster":
		return decode(doc, name, r.pgClusters)
	case "postgresql.cnpg.io/v1 Database":
		return decode(doc, name, r.pgDatabases)
	case "rabbitmq.com/v1beta1 User":
		return decode(doc, name, r.brokerUsers)
	case "rabbitmq.com/v1beta1 Permission":
		return decode(doc, name, r.brokerPermissions)
	case "rabbitmq.com/v1beta1 TopicPermission":
		return decode(doc, name, r.topicPermissions)
	}
	return fmt.Errorf("no Go type to check this kind against; add one to rendered.add")
}

func decode[T any](doc []byte, name string, into map[string]*T) error {
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	if _, dup := into[name]; dup {
		return fmt.Errorf("rendered twice")
	}
	into[name] = obj
	return nil
}

// operatorSecrets are the Secrets the operators create for the rendered
// clusters, with the keys they are documented to hold; references to them
// need not (and cannot) be rendered.
func (r *rendered) operatorSecrets() map[string][]string {
	m := map[string][]string{}
	for name := range r.rabbitmqs {
		// The RabbitMQ Cluster Operator's default user, a service binding.
		m[name+"-default-user"] = []string{"username", "password", "host", "port", "connection_string", "provider", "type", "default_user.conf"}
	}
	for name := range r.pgClusters {
		// CloudNativePG's certificate authority of the server certificate.
		m[name+"-ca"] = []string{"ca.crt", "ca.key"}
	}
	return m
}

// secretKeys returns the keys of a Secret the target may refer to, and
// whether it is one: rendered, created by an operator, or made by hand.
func (r *rendered) secretKeys(name string) ([]string, bool) {
	if s, ok := r.secrets[name]; ok {
		var keys []string
		for k := range s.Data {
			keys = append(keys, k)
		}
		for k := range s.StringData {
			keys = append(keys, k)
		}
		return keys, true
	}
	if keys, ok := r.operatorSecrets()[name]; ok {
		return keys, true
	}
	keys, ok := r.target.externalSecrets[name]
	return keys, ok
}

// configMapKeys is secretKeys for ConfigMaps.
func (r *rendered) configMapKeys(name string) ([]string, bool) {
	if cm, ok := r.configMaps[name]; ok {
		var keys []string
		for k := range cm.Data {
			keys = append(keys, k)
		}
		return keys, true
	}
	keys, ok := r.target.externalConfigMaps[name]
	return keys, ok
}
