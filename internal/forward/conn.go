package forward

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions say how to reach and authenticate to the NATS server. The
// files (NKeySeed, Creds, TLS key) are checked by package config
// (root-owned, not writable by group or others) when the keys are set.
type ConnOptions struct {
	URL      string // nats://HOST:PORT or tls://HOST:PORT
	User     string
	Password string
	Token    string
	NKeySeed string // file holding an nkey seed
	Creds    string // a .creds file (JWT and nkey seed)
	TLSCA    string // CA file to verify the server
	TLSCert  string // client certificate and key files
	TLSKey   string
	// Insecure permits plain text to a server that is not on loopback.
	Insecure bool
	// Name is the connection name the server shows.
	Name string
}

// ErrInsecure is returned for plain text to a non-loopback server
// without Insecure.
var ErrInsecure = errors.New("plain text to a server that is not on loopback: use TLS (a tls:// URL or a CA file), or permit it explicitly (forward_insecure = yes, collect --insecure)")

// TLS reports whether the connection uses TLS.
func (o ConnOptions) TLS() bool {
	return strings.HasPrefix(o.URL, "tls://") || o.TLSCA != "" || o.TLSCert != ""
}

// Check verifies the URL (or the comma-separated URLs of a cluster)
// and refuses plain text to a server that is not on loopback unless
// Insecure is set (a name other than localhost counts as not loopback).
func (o ConnOptions) Check() error {
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("forward: forward_tls_cert and forward_tls_key go together")
	}
	for _, one := range strings.Split(o.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil {
			return fmt.Errorf("forward: url %q: %w", one, err)
		}
		if u.Scheme != "nats" && u.Scheme != "tls" || u.Hostname() == "" {
			return fmt.Errorf("forward: url %q: want nats://HOST:PORT or tls://HOST:PORT", one)
		}
		if o.TLS() || o.Insecure || u.Scheme == "tls" {
			continue
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
			continue
		}
		return fmt.Errorf("forward: %s: %w", one, ErrInsecure)
	}
	return nil
}

func (o ConnOptions) natsOptions() ([]nats.Option, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(5 * time.Second),
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.NKeySeed != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("forward: nkey seed %s: %w", o.NKeySeed, err)
		}
		opts = append(opts, opt)
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	if strings.HasPrefix(o.URL, "tls://") && o.TLSCA == "" && o.TLSCert == "" {
		opts = append(opts, nats.Secure())
	}
	return opts, nil
}
