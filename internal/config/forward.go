package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/auditdrain/auditdrain/internal/forward"
)

// Forward is the forwarding configuration (forward_* keys): where the
// log is sent (NATS JetStream, package internal/forward) and how to
// authenticate. Forwarding is on when URL is set.
type Forward struct {
	URL      string // forward_url: nats://HOST:PORT or tls://HOST:PORT ("" = off)
	Subject  string // forward_subject: subject prefix, messages go to SUBJECT.<host>
	Stream   string // forward_stream: the JetStream stream (created if missing)
	Payload  string // forward_payload: frame
	Replicas int    // forward_replicas: copies of a stream the forwarder creates
	User     string // forward_user
	Password string // forward_password
	Token    string // forward_token
	NKeySeed string // forward_nkey_seed: a trusted file
	Creds    string // forward_creds: a trusted file
	TLSCA    string // forward_tls_ca
	TLSCert  string // forward_tls_cert
	TLSKey   string // forward_tls_key: a trusted file
	Insecure bool   // forward_insecure: permit plain text to a non-loopback server
}

// validateForward checks the forward_* keys together.
func (c *Config) validateForward() error {
	f := c.Forward
	if f.URL == "" {
		return nil
	}
	if c.Compression != CompressionZstd {
		return errors.New("config: forward_url needs compression = zstd (the forwarder sends the log's zstd frames)")
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return errors.New("config: forward_tls_cert and forward_tls_key go together")
	}
	if f.Subject == "" || strings.ContainsAny(f.Subject, " \t*>") {
		return fmt.Errorf("config: forward_subject = %q: want NATS subject tokens without wildcards", f.Subject)
	}
	conn := forward.ConnOptions{URL: f.URL, TLSCA: f.TLSCA, TLSCert: f.TLSCert, TLSKey: f.TLSKey, Insecure: f.Insecure}
	if err := conn.Check(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, p := range []struct{ key, path string }{{"forward_nkey_seed", f.NKeySeed}, {"forward_creds", f.Creds}, {"forward_tls_key", f.TLSKey}} {
		if p.path == "" {
			continue
		}
		if err := CheckTrusted(p.path); err != nil {
			return fmt.Errorf("config: %s: %w", p.key, err)
		}
	}
	return nil
}

// forwardURL is "" or nats://HOST:PORT or tls://HOST:PORT.
func forwardURL(ptr func(*Config) *string) value {
	return field[string]{ptr, func(s string) (string, error) {
		if s == "" {
			return s, nil
		}
		for _, one := range strings.Split(s, ",") {
			u, err := url.Parse(strings.TrimSpace(one))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" {
				return "", errors.New("want nats://HOST:PORT or tls://HOST:PORT (several, comma-separated, for a cluster)")
			}
		}
		return s, nil
	}, func(s string) string { return s }}
}

// natsName is a subject prefix (dots allowed) or, with dots false, a
// stream name: no white space, wildcards or (for a stream) dots.
func natsName(ptr func(*Config) *string, dots bool) value {
	return field[string]{ptr, func(s string) (string, error) {
		bad := " \t\r\n*>"
		if !dots {
			bad += "./\\"
		}
		if s == "" || strings.ContainsAny(s, bad) || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
			return "", fmt.Errorf("want a NATS name without white space, wildcards%s", map[bool]string{true: "", false: " or dots"}[dots])
		}
		return s, nil
	}, func(s string) string { return s }}
}
