package forward

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditdrain/auditdrain/internal/audittest"
	"github.com/auditdrain/auditdrain/writer"
)

// writeCert writes a PEM certificate and key, signed by parent (self
// signed when parent is nil), and returns them.
func writeCert(t *testing.T, dir, name string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key, cf, kf
}

// TestTLS: a server with a certificate from a test CA. The forwarder
// with that CA forwards over TLS; with another CA it refuses the server.
func TestTLS(t *testing.T) {
	tmp := t.TempDir()
	ca, caKey, caFile, _ := writeCert(t, tmp, "ca", true, nil, nil)
	_, _, _, _ = writeCert(t, tmp, "other-ca", true, nil, nil)
	_, _, certFile, keyFile := writeCert(t, tmp, "server", false, ca, caKey)
	conf := filepath.Join(tmp, "tls.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n}\n", certFile, keyFile)), 0o600)
	srv := audittest.StartNATS(t, "-c", conf)
	dir := filepath.Join(t.TempDir(), "log")
	w, err := writer.Open(writer.Config{Dir: dir, LogGroup: -1, FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writeLog(t, w, 1, 100)
	w.Close()
	for _, tc := range []struct {
		name, ca string
		ok       bool
	}{
		{"the server's CA", caFile, true},
		{"another CA", filepath.Join(tmp, "other-ca.pem"), false},
	} {
		conn := ConnOptions{URL: srv.URL(), TLSCA: tc.ca}
		f, err := New(Config{Dir: dir, Cursor: filepath.Join(t.TempDir(), "cursor"), Host: "h", BootID: "b", Interval: 10 * time.Millisecond,
			Dial: func(ctx context.Context) (Sink, error) {
				return NewJetStreamSink(ctx, conn, DefaultStream, DefaultSubject, 1)
			}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := run(f.Run)
		if tc.ok {
			waitFor(t, 10*time.Second, tc.name+": records forwarded", func() bool { return f.Stats().Cursor.Records == 100 })
		} else {
			waitFor(t, 15*time.Second, tc.name+": the error", func() bool { return f.Stats().LastErr != "" })
			if st := f.Stats(); st.Cursor.Records != 0 {
				t.Errorf("%s: %d records forwarded (last error %q)", tc.name, st.Cursor.Records, st.LastErr)
			} else {
				t.Logf("%s: %s", tc.name, st.LastErr)
			}
		}
		r.stop()
	}
}
