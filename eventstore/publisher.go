package eventstore

import (
	"errors"
	"fmt"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Outgoing is one message for a subject, in the order it must be stored.
type Outgoing struct {
	Subject string
	Message *message.Message // UUID becomes Nats-Msg-Id
}

// OrderedPublisher publishes watermill messages to one JetStream stream
// without waiting for each acknowledgement, yet never stores them out of
// order. Watermill's own NATS publisher waits for every ack in turn, which
// caps a relay at one round trip per event.
//
// Every message but the first of a call expects the previous one to be the
// stream's last (Nats-Expected-Last-Msg-Id): when one is lost, every later
// one is refused, so what JetStream stored is always a prefix of the call.
// Nats-Msg-Id de-duplication runs before that check, so re-sending an
// already stored prefix is acknowledged as duplicates.
type OrderedPublisher struct {
	js        nats.JetStreamContext
	marshaler wmnats.Marshaler
}

// NewOrderedPublisher returns a publisher on nc; a message not
// acknowledged within ackTimeout counts as lost.
func NewOrderedPublisher(nc *nats.Conn, maxPending int, ackTimeout time.Duration) (*OrderedPublisher, error) {
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(maxPending), nats.PublishAsyncTimeout(ackTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &OrderedPublisher{js: js, marshaler: &wmnats.NATSMarshaler{}}, nil
}

// PublishOrdered sends msgs pipelined and returns how many of them, from
// the first, JetStream acknowledged; err says why the rest were not.
func (p *OrderedPublisher) PublishOrdered(msgs []Outgoing) (int, error) {
	futures := make([]nats.PubAckFuture, 0, len(msgs))
	var sendErr error
	prev := ""
	for _, o := range msgs {
		nm, err := p.marshaler.Marshal(o.Subject, o.Message)
		if err != nil {
			sendErr = fmt.Errorf("message %s: %w", o.Message.UUID, err)
			break
		}
		opts := []nats.PubOpt{nats.MsgId(o.Message.UUID)}
		if prev != "" {
			opts = append(opts, nats.ExpectLastMsgId(prev))
		}
		f, err := p.js.PublishMsgAsync(nm, opts...)
		if err != nil {
			sendErr = fmt.Errorf("message %s: %w", o.Message.UUID, err)
			break
		}
		futures = append(futures, f)
		prev = o.Message.UUID
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return i, fmt.Errorf("message %s: %w", msgs[i].Message.UUID, err)
		}
	}
	return len(futures), sendErr
}

// Publish implements watermill's message.Publisher for one subject.
func (p *OrderedPublisher) Publish(topic string, messages ...*message.Message) error {
	out := make([]Outgoing, len(messages))
	for i, m := range messages {
		out[i] = Outgoing{Subject: topic, Message: m}
	}
	n, err := p.PublishOrdered(out)
	if err == nil && n < len(out) {
		err = errors.New("not every message was acknowledged")
	}
	return err
}

// Close implements message.Publisher; the connection belongs to the caller.
func (p *OrderedPublisher) Close() error { return nil }

var _ message.Publisher = (*OrderedPublisher)(nil)
