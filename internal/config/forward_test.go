package config

import (
	"strings"
	"testing"
)

func TestValidateForward(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]string
		want string // "" = accepted
	}{
		{map[string]string{"forward_url": "nats://127.0.0.1:4222"}, ""},
		{map[string]string{"forward_url": "nats://localhost:4222,nats://[::1]:4223"}, ""},
		{map[string]string{"forward_url": "nats://10.0.0.5:4222"}, "plain text to a server that is not on loopback"},
		{map[string]string{"forward_url": "nats://127.0.0.1:4222,nats://collector:4222"}, "not on loopback"},
		{map[string]string{"forward_url": "nats://10.0.0.5:4222", "forward_insecure": "yes"}, ""},
		{map[string]string{"forward_url": "tls://10.0.0.5:4222"}, ""},
		{map[string]string{"forward_url": "nats://10.0.0.5:4222", "forward_tls_ca": "/etc/ca.pem"}, ""},
		{map[string]string{"forward_url": "nats://127.0.0.1:4222", "forward_tls_cert": "/etc/c.pem"}, "go together"},
		{map[string]string{"forward_url": "nats://127.0.0.1:4222", "compression": "none"}, "needs compression = zstd"},
	} {
		c := Default()
		c.RulesDir = ""
		for k, v := range tc.set {
			if err := c.Set(k, v); err != nil {
				t.Fatalf("%v: %v", tc.set, err)
			}
		}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.set, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want %q", tc.set, err, tc.want)
		}
	}
}
