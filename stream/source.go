package stream

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one record read from a source, or (Control) a change of a
// unit's position that carries no record.
type Message struct {
	// Unit is the source's unit of order and of ownership, named
	// "topic/partition" for Kafka ("orders/3") and "stream/shardId" for
	// Kinesis ("events/shardId-000000000001"). Records of one unit arrive
	// in order; the table records a position per unit.
	Unit string
	// Topic is the Kafka topic or the Kinesis stream.
	Topic string
	// Partition is the Kafka partition (-1 for Kinesis); Shard is the
	// Kinesis shard ID ("" for Kafka).
	Partition int32
	Shard     string
	// Position is the message's own position, in decimal: the Kafka
	// offset or the Kinesis sequence number. Error outputs name it.
	Position string
	// Next is the unit's position once this message is consumed: what the
	// table's checkpoint records and a restart resumes from (Kafka: the
	// offset + 1, the next offset to read, as Hudi's streamer records it;
	// Kinesis: the sequence number, read on AFTER_SEQUENCE_NUMBER;
	// PositionEnd for a Kinesis shard read to its end).
	Next string
	// Key and Value are the record's key and payload; a nil Value is a
	// Kafka tombstone.
	Key, Value []byte
	// Headers are the Kafka record headers (nil for Kinesis).
	Headers map[string][]byte
	// Time is the broker's timestamp (Kafka's record timestamp, Kinesis's
	// approximate arrival time).
	Time time.Time
	// Control marks a message without a record that only moves the
	// unit's position to Next (a Kinesis shard closed by resharding and
	// read to its end).
	Control bool
}

// PositionEnd is the position of a unit read to its end for good: a
// closed Kinesis shard. It sorts after every other position.
const PositionEnd = "end"

// PositionSource, returned by Handler.Assigned for a unit, asks the source
// to start where its own store says the unit was committed (Kafka: the
// group's committed offset), else at its configured start. A handler
// returns it for a unit whose table it cannot name yet (a Debezium route
// whose table comes from the first message); the source's store is written
// only after table commits, so it is never past the table, and the handler
// skips what the table already holds. It is never a recorded position.
const PositionSource = "source"

// ComparePositions orders two positions of one unit: decimal numbers
// (Kafka offsets, Kinesis sequence numbers, any length) by value, ""
// (nothing consumed) first, PositionEnd last.
func ComparePositions(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	case a == PositionEnd:
		return 1
	case b == PositionEnd:
		return -1
	}
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// Source is where a stream reads: a Kafka consumer group member or a
// Kinesis stream reader. The table, not the source, is the truth about
// positions: on assignment the source asks the Handler where each unit
// starts, and the source's own offset store (Kafka's committed group
// offsets) is only written after the table commit, as a convenience for
// monitoring tools.
type Source interface {
	// Run reads until ctx ends or a fatal error, calling h from one
	// goroutine: Assigned before the first message of a unit, Messages in
	// order per unit, Tick at least once a second while nothing arrives,
	// Revoked before a unit is given up (a rebalance). When ctx ends, Run
	// stops fetching, calls Revoked with every unit it still owns (with a
	// context that is not cancelled: the handler commits what it
	// buffered), leaves the group and returns nil. An error from h stops
	// Run and is returned.
	Run(ctx context.Context, h Handler) error
	// Commit records the positions the table committed in the source's
	// own store (Kafka: the group's offsets; Kinesis: nothing). Positions
	// are keyed by unit. Errors are reported, never fatal to the stream.
	Commit(ctx context.Context, positions map[string]string) error
	// Lag reports, per owned unit, how far the reader is behind the
	// newest record: records for Kafka (high watermark − next offset),
	// milliseconds for Kinesis (MillisBehindLatest). Safe to call from
	// any goroutine.
	Lag() map[string]int64
	// Close releases the client.
	Close() error
}

// Handler is what a Source calls.
type Handler interface {
	// Assigned tells the handler the source now owns units; it returns the
	// position to start each from (a Message.Next value; "" or a missing
	// unit: the source's configured start, e.g. the earliest offset;
	// PositionSource: the source's own committed position).
	Assigned(ctx context.Context, units []string) (map[string]string, error)
	// Revoked tells the handler the source gives units up once it
	// returns: the handler commits (or drops) what it buffered of them.
	Revoked(ctx context.Context, units []string) error
	// Messages hands over fetched messages, in order within each unit. The
	// handler may commit before it returns; msgs and their slices are
	// the handler's to keep.
	Messages(ctx context.Context, msgs []Message) error
	// Tick is called at least once a second, so time-based commits happen
	// when nothing arrives.
	Tick(ctx context.Context) error
}

// ErrorRecord is one message the stream refused (it failed to parse or
// validate), with where it came from and why.
type ErrorRecord struct {
	// Table is the location of the table the message was routed to ("" when
	// it could not be routed).
	Table string `json:"table,omitempty"`
	// Unit and Position locate the message in the source.
	Unit     string `json:"unit"`
	Position string `json:"position"`
	// Field names the offending field, when one is to blame.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	// Key and Value are the message as read. In JSON they are strings
	// ("key", "value") when they are valid UTF-8, else base64
	// ("key_base64", "value_base64").
	Key   []byte    `json:"-"`
	Value []byte    `json:"-"`
	Time  time.Time `json:"time"`
}

// errorRecordJSON is ErrorRecord's JSON form.
type errorRecordJSON struct {
	Table       string    `json:"table,omitempty"`
	Unit        string    `json:"unit"`
	Position    string    `json:"position"`
	Field       string    `json:"field,omitempty"`
	Reason      string    `json:"reason"`
	Key         *string   `json:"key,omitempty"`
	KeyBase64   []byte    `json:"key_base64,omitempty"`
	Value       *string   `json:"value,omitempty"`
	ValueBase64 []byte    `json:"value_base64,omitempty"`
	Time        time.Time `json:"time"`
}

// MarshalJSON writes Key and Value as text when they are valid UTF-8.
func (r ErrorRecord) MarshalJSON() ([]byte, error) {
	j := errorRecordJSON{Table: r.Table, Unit: r.Unit, Position: r.Position, Field: r.Field, Reason: r.Reason, Time: r.Time}
	j.Key, j.KeyBase64 = textOrBytes(r.Key)
	j.Value, j.ValueBase64 = textOrBytes(r.Value)
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *ErrorRecord) UnmarshalJSON(b []byte) error {
	var j errorRecordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = ErrorRecord{Table: j.Table, Unit: j.Unit, Position: j.Position, Field: j.Field, Reason: j.Reason, Time: j.Time,
		Key: j.KeyBase64, Value: j.ValueBase64}
	if j.Key != nil {
		r.Key = []byte(*j.Key)
	}
	if j.Value != nil {
		r.Value = []byte(*j.Value)
	}
	return nil
}

func textOrBytes(b []byte) (*string, []byte) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

// ErrorSink is the error output: a file, a storage prefix or a Kafka
// dead-letter topic.
type ErrorSink interface {
	// Write stores recs durably before it returns: the stream commits the
	// positions past them only afterwards, so a refused message is never
	// lost (after a crash between the two it may be written twice).
	Write(ctx context.Context, recs []ErrorRecord) error
	// Close flushes and releases the sink.
	Close() error
}
