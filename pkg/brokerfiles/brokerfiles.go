// Package brokerfiles renders the broker users of pkg/topology for the two
// places that create them without brokersetup calling the management API:
// RabbitMQ's definitions file (docker compose loads it at boot) and the
// Messaging Topology Operator's custom resources (Kubernetes).
// `brokersetup definitions` and `brokersetup k8s` print them; tests check
// that the committed files are what the table renders to today.
package brokerfiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"sigs.k8s.io/yaml"

	"github.com/expenseflow/expenseflow/pkg/amqpx"
	"github.com/expenseflow/expenseflow/pkg/topology"
)

// Definitions is a RabbitMQ definitions file for vhost: the Users with
// their development passwords (hashed), and admin, an administrator with
// every permission who declares the topology (brokersetup) and logs in to
// the management UI. A broker that loads definitions at boot creates no
// default user of its own, hence admin.
func Definitions(vhost, admin, adminPassword string) ([]byte, error) {
	type user struct {
		Name      string   `json:"name"`
		Hash      string   `json:"password_hash"`
		Algorithm string   `json:"hashing_algorithm"`
		Tags      []string `json:"tags"`
	}
	type permission struct {
		User      string `json:"user"`
		VHost     string `json:"vhost"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	type topicPermission struct {
		User     string `json:"user"`
		VHost    string `json:"vhost"`
		Exchange string `json:"exchange"`
		Write    string `json:"write"`
		Read     string `json:"read"`
	}
	var d struct {
		Users            []user              `json:"users"`
		VHosts           []map[string]string `json:"vhosts"`
		Permissions      []permission        `json:"permissions"`
		TopicPermissions []topicPermission   `json:"topic_permissions"`
	}
	d.VHosts = []map[string]string{{"name": vhost}}
	d.Users = append(d.Users, user{admin, passwordHash(admin, adminPassword), sha256Algorithm, []string{"administrator"}})
	d.Permissions = append(d.Permissions, permission{admin, vhost, ".*", ".*", ".*"})
	for _, u := range topology.Users() {
		d.Users = append(d.Users, user{u.Name, passwordHash(u.Name, topology.DevPassword(u.Name)), sha256Algorithm, append([]string{}, u.Tags...)})
		d.Permissions = append(d.Permissions, permission{u.Name, vhost, u.Configure, u.Write, u.Read})
		if write, read, ok := u.TopicRule(); ok {
			d.TopicPermissions = append(d.TopicPermissions, topicPermission{u.Name, vhost, amqpx.EventsExchange, write, read})
		}
	}
	return json.MarshalIndent(d, "", "  ")
}

const sha256Algorithm = "rabbit_password_hashing_sha256"

// passwordHash is RabbitMQ's stored form of a password: a 4-byte salt, then
// SHA-256 of salt and password, base64-encoded. The salt is derived from
// the user name so that the committed file renders the same every time;
// these are development passwords, public anyway.
func passwordHash(user, password string) string {
	seed := sha256.Sum256([]byte("expenseflow broker user " + user))
	salt := seed[:4]
	sum := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(append([]byte{}, salt...), sum[:]...))
}

// The Messaging Topology Operator's resources, field for field as its
// v1beta1 API declares them (github.com/rabbitmq/messaging-topology-operator,
// api/v1beta1); its Go module is not a dependency of ours, so the few
// fields we use are spelt out here, and deploy/k8s decodes into these.

// MTOObject is the part of every custom resource we write.
type MTOObject struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   MTOMetadata `json:"metadata"`
}

// MTOMetadata is the object metadata we write, and kustomize adds to.
type MTOMetadata struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// MTOName is a local object reference: {name: ...}.
type MTOName struct {
	Name string `json:"name"`
}

// MTOUser is a rabbitmq.com/v1beta1 User.
type MTOUser struct {
	MTOObject `json:",inline"`
	Spec      struct {
		Tags                     []string `json:"tags,omitempty"`
		RabbitmqClusterReference MTOName  `json:"rabbitmqClusterReference"`
		ImportCredentialsSecret  *MTOName `json:"importCredentialsSecret,omitempty"`
	} `json:"spec"`
}

// MTOPermission is a rabbitmq.com/v1beta1 Permission.
type MTOPermission struct {
	MTOObject `json:",inline"`
	Spec      struct {
		UserReference *MTOName `json:"userReference,omitempty"`
		Vhost         string   `json:"vhost"`
		Permissions   struct {
			Configure string `json:"configure,omitempty"`
			Write     string `json:"write,omitempty"`
			Read      string `json:"read,omitempty"`
		} `json:"permissions"`
		RabbitmqClusterReference MTOName `json:"rabbitmqClusterReference"`
	} `json:"spec"`
}

// MTOTopicPermission is a rabbitmq.com/v1beta1 TopicPermission.
type MTOTopicPermission struct {
	MTOObject `json:",inline"`
	Spec      struct {
		UserReference *MTOName `json:"userReference,omitempty"`
		Vhost         string   `json:"vhost"`
		Permissions   struct {
			Exchange string `json:"exchange,omitempty"`
			Read     string `json:"read,omitempty"`
			Write    string `json:"write,omitempty"`
		} `json:"permissions"`
		RabbitmqClusterReference MTOName `json:"rabbitmqClusterReference"`
	} `json:"spec"`
}

// K8s renders the Users as Messaging Topology Operator resources for the
// RabbitmqCluster named cluster: per user a User (credentials imported
// from topology.K8sSecretName), a Permission on the default vhost and, for a
// publisher, a TopicPermission on the events exchange.
func K8s(cluster string) ([]byte, error) {
	const apiVersion = "rabbitmq.com/v1beta1"
	var docs [][]byte
	for _, u := range topology.Users() {
		name := topology.K8sSecretName(u.Name)
		object := func(kind string) MTOObject {
			return MTOObject{APIVersion: apiVersion, Kind: kind, Metadata: MTOMetadata{Name: name}}
		}
		var user MTOUser
		user.MTOObject = object("User")
		user.Spec.Tags = u.Tags
		user.Spec.RabbitmqClusterReference = MTOName{cluster}
		user.Spec.ImportCredentialsSecret = &MTOName{name}
		var perm MTOPermission
		perm.MTOObject = object("Permission")
		perm.Spec.UserReference, perm.Spec.Vhost = &MTOName{name}, "/"
		perm.Spec.Permissions.Configure, perm.Spec.Permissions.Write, perm.Spec.Permissions.Read = u.Configure, u.Write, u.Read
		perm.Spec.RabbitmqClusterReference = MTOName{cluster}
		objects := []any{user, perm}
		if write, read, ok := u.TopicRule(); ok {
			var topic MTOTopicPermission
			topic.MTOObject = object("TopicPermission")
			topic.Spec.UserReference, topic.Spec.Vhost = &MTOName{name}, "/"
			topic.Spec.Permissions.Exchange, topic.Spec.Permissions.Write, topic.Spec.Permissions.Read = amqpx.EventsExchange, write, read
			topic.Spec.RabbitmqClusterReference = MTOName{cluster}
			objects = append(objects, topic)
		}
		for _, o := range objects {
			b, err := yaml.Marshal(o)
			if err != nil {
				return nil, err
			}
			docs = append(docs, b)
		}
	}
	header := "# Generated by `make broker-files` from pkg/topology: do not edit. A broker user\n" +
		"# per service and the operator, for the Messaging Topology Operator; each\n" +
		"# imports its credentials from the Secret of its own name (username, password).\n"
	return append([]byte(header), bytes.Join(docs, []byte("---\n"))...), nil
}
