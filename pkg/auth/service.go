package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/expenseflow/expenseflow/pkg/apperr"
)

// Service tokens authenticate one service's synchronous call to another
// (approval reserving budget at accounting; docs/adr/0017-service-tokens.md).
// They are not user tokens: a service signs its own with an Ed25519 private
// key only it holds, and the callee verifies with that service's public key.
// The callee cannot mint the caller's token (unlike with a shared HMAC
// secret), and a user's token, signed with the user key, is never a
// service's.
//
// Claims: sub "service:<name>", aud the callee's name, iat and exp (a
// minute: a caller mints one per call).

// ServiceTokenTTL is how long a service token is valid.
const ServiceTokenTTL = time.Minute

// DevServiceKey is the Ed25519 key of service in DEV_MODE: derived from a
// public seed, so that anyone can run the stack without generating keys —
// and so that anyone can impersonate a service where it is used. Never
// outside a laptop, like DevSecret.
func DevServiceKey(service string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("expenseflow-dev-mode-service-key:" + service))
	return ed25519.NewKeyFromSeed(seed[:])
}

// ParsePrivateKey reads a base64 (standard encoding) Ed25519 seed or private key.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	switch {
	case err != nil:
		return nil, fmt.Errorf("service signing key: %w", err)
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("service signing key: %d bytes, want an Ed25519 seed (32) or private key (64)", len(b))
}

// ParsePublicKey reads a base64 (standard encoding) Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("service public key: want %d bytes of base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

type serviceClaims struct {
	jwt.RegisteredClaims
}

// MintService signs a token for service calling audience.
func MintService(key ed25519.PrivateKey, service, audience string, now time.Time) (string, error) {
	c := serviceClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: "service:" + service, Audience: jwt.ClaimStrings{audience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ServiceTokenTTL)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
}

// ServiceVerifier accepts the tokens of the services it knows, for one audience.
type ServiceVerifier struct {
	keys   map[string]ed25519.PublicKey // service → its public key
	parser *jwt.Parser
}

// NewServiceVerifier verifies tokens addressed to audience from the services
// of keys.
func NewServiceVerifier(audience string, keys map[string]ed25519.PublicKey) *ServiceVerifier {
	return &ServiceVerifier{keys: keys, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithAudience(audience), jwt.WithLeeway(leeway),
	)}
}

// Verify returns the calling service's name, or Unauthorized.
func (v *ServiceVerifier) Verify(token string) (string, error) {
	var c serviceClaims
	var service string
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		sub, _ := t.Claims.GetSubject()
		name, ok := strings.CutPrefix(sub, "service:")
		key, known := v.keys[name]
		if !ok || !known {
			return nil, errors.New("unknown service")
		}
		service = name
		return key, nil
	})
	if err != nil {
		return "", apperr.New(apperr.Unauthorized, "a valid service token is required")
	}
	return service, nil
}
