package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message is one frame to publish.
type Message struct {
	Subject string
	ID      string // de-duplication id (Nats-Msg-Id)
	Header  map[string]string
	Data    []byte
}

// Sink publishes batches of messages. PublishBatch returns nil only once
// the server has acknowledged (stored) every message of the batch; on an
// error some may have been stored, and the batch is published again with
// the same ids. Implementations: NATS JetStream (NewJetStreamSink); Kafka
// could follow with idempotent producers.
type Sink interface {
	PublishBatch(ctx context.Context, msgs []Message) error
	Close() error
}

// Header names of a forwarded frame.
const (
	HdrHost    = "Auditdrain-Host"
	HdrBoot    = "Auditdrain-Boot"
	HdrSegment = "Auditdrain-Segment" // the source segment's number
	HdrOffset  = "Auditdrain-Offset"  // the frame's offset in it
	HdrPrev    = "Auditdrain-Prev"    // SEQ:OFFSET of the frame sent before (empty: none known)
	HdrSerials = "Auditdrain-Serials" // FIRST-LAST serial of its stamped records
	HdrRecords = "Auditdrain-Records" // its record count
	HdrPayload = "Auditdrain-Payload" // "frame": a zstd frame of RAW lines
)

// DefaultDuplicateWindow is the duplicate window of a stream the
// forwarder creates: a replay after a crash is published within seconds,
// well inside it.
const DefaultDuplicateWindow = 10 * time.Minute

// jsSink is a Sink on NATS JetStream.
type jsSink struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
	futures []jetstream.PubAckFuture
}

// NewJetStreamSink connects with the options given and makes sure the
// stream named stream exists, capturing subject.> (it creates it, file
// storage, with DefaultDuplicateWindow and replicas copies on a
// cluster, if not).
func NewJetStreamSink(ctx context.Context, o ConnOptions, stream, subject string, replicas int) (Sink, error) {
	nc, js, err := connectJS(ctx, o, stream, subject, replicas)
	if err != nil {
		return nil, err
	}
	return &jsSink{nc: nc, js: js, timeout: 10 * time.Second}, nil
}

func connectJS(ctx context.Context, o ConnOptions, stream, subject string, replicas int) (*nats.Conn, jetstream.JetStream, error) {
	opts, err := o.natsOptions()
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("forward: connect to %s: %w", o.URL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if err := ensureStream(ctx, js, stream, subject, replicas); err != nil {
		if le := nc.LastError(); le != nil {
			err = fmt.Errorf("%w (the connection to %s: %v)", err, o.URL, le)
		}
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, stream, subject string, replicas int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.Stream(ctx, stream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("forward: look up stream %s: %w", stream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       stream,
		Subjects:   []string{subject + ".>"},
		Storage:    jetstream.FileStorage,
		Duplicates: DefaultDuplicateWindow,
		Replicas:   max(replicas, 1),
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("forward: create stream %s: %w", stream, err)
	}
	return nil
}

func (s *jsSink) PublishBatch(ctx context.Context, msgs []Message) error {
	s.futures = s.futures[:0]
	for i := range msgs {
		m := &msgs[i]
		nm := nats.NewMsg(m.Subject)
		for k, v := range m.Header {
			nm.Header.Set(k, v)
		}
		nm.Data = m.Data
		f, err := s.js.PublishMsgAsync(nm, jetstream.WithMsgID(m.ID))
		if err != nil {
			return fmt.Errorf("forward: publish: %w", err)
		}
		s.futures = append(s.futures, f)
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	var errs []error
	for _, f := range s.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-timer.C:
			return fmt.Errorf("forward: no acknowledgement within %v", s.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("forward: %d of %d messages not acknowledged: %w", len(errs), len(msgs), errs[0])
	}
	return nil
}

func (s *jsSink) Close() error {
	s.nc.Close()
	return nil
}
