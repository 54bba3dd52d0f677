package main

import (
	"errors"
	"fmt"

	"github.com/auditdrain/auditdrain/internal/cli"
	"github.com/auditdrain/auditdrain/internal/config"
	"github.com/auditdrain/auditdrain/internal/forward"
)

// cmdCollect consumes a fleet's forwarded frames from JetStream into
// DIR/<host>/ segment directories.
func cmdCollect(e *env, args []string) error {
	fs := e.flags("--from nats://HOST:PORT --dir DIR [flags]",
		"Consume the frames auditdrain daemons forward (forward_url) from a durable JetStream consumer and write\n"+
			"each host's into DIR/<host>/ as segments, so that 'auditdrain cat DIR/<host>' (and ausearch through it)\n"+
			"reads them. A frame is written and fdatasynced before its message is acknowledged; duplicates are\n"+
			"skipped. Collectors with the same --durable name share the work (on one DIR: a host's directory is\n"+
			"locked while written). Runs until interrupted.")
	from := fs.String("from", "", "the NATS server, `URL` nats://HOST:PORT or tls://HOST:PORT")
	dir := fs.String("dir", "", "the `DIR` of the per-host directories")
	stream := fs.String("stream", forward.DefaultStream, "the JetStream `stream` (forward_stream)")
	subject := fs.String("subject", forward.DefaultSubject, "the subject `prefix` (forward_subject)")
	durable := fs.String("durable", "auditdrain-collect", "the durable consumer `name`, shared by collectors that share the work")
	user := fs.String("user", "", "NATS user `name`")
	password := fs.String("password", "", "NATS `password`")
	token := fs.String("token", "", "NATS `token`")
	seed := fs.String("nkey-seed", "", "nkey seed `file` (root-owned, not writable by group or others)")
	creds := fs.String("creds", "", "NATS .creds `file` (root-owned, not writable by group or others)")
	ca := fs.String("tls-ca", "", "CA `file` verifying the server")
	cert := fs.String("tls-cert", "", "client certificate `file`")
	key := fs.String("tls-key", "", "client key `file` (root-owned, not writable by group or others)")
	replicas := fs.Int("replicas", 1, "replicas of the stream if collect creates it (forward_replicas)")
	insecure := fs.Bool("insecure", false, "permit plain text to a server that is not on loopback")
	if err := e.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *from == "" || *dir == "" {
		return cli.Usagef("--from and --dir are required")
	}
	for _, p := range []string{*seed, *creds, *key} {
		if p == "" {
			continue
		}
		if err := config.CheckTrusted(p); err != nil {
			return err
		}
	}
	conn := forward.ConnOptions{URL: *from, User: *user, Password: *password, Token: *token, NKeySeed: *seed,
		Creds: *creds, TLSCA: *ca, TLSCert: *cert, TLSKey: *key, Insecure: *insecure, Name: "auditdrain collect"}
	if err := conn.Check(); err != nil {
		if errors.Is(err, forward.ErrInsecure) {
			return cli.Usagef("%v", err)
		}
		return err
	}
	c := forward.NewCollector(forward.CollectConfig{Conn: conn, Stream: *stream, Subject: *subject, Durable: *durable, Dir: *dir, Replicas: *replicas,
		Logf: func(f string, a ...any) { fmt.Fprintf(e.stderr, "auditdrain: "+f+"\n", a...) }})
	ctx := interruptible()
	err := c.Run(ctx)
	st := c.Stats()
	fmt.Fprintf(e.stderr, "auditdrain: collect: %d frames, %d records written; %d duplicates skipped; %d refused\n",
		st.Frames, st.Records, st.Duplicates, st.Bad)
	return err
}
