package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// encodeRecords renders recs as JSON Lines.
func encodeRecords(recs []ErrorRecord) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return nil, fmt.Errorf("stream: error output: encode record of %s at %s: %w", recs[i].Unit, recs[i].Position, err)
		}
	}
	return buf.Bytes(), nil
}

// fileErrorSink appends JSON Lines to a local file (or stderr).
type fileErrorSink struct {
	path string
	mu   struct {
		sync.Mutex
		f      *os.File
		closed bool
	}
	stderr bool
}

// NewFileErrorSink returns an error output that appends each ErrorRecord
// as one JSON line to the file at path (created if missing, mode 0644) and
// syncs it to disk before Write returns. Path "-" writes to standard error
// (no sync).
func NewFileErrorSink(path string) (ErrorSink, error) {
	s := &fileErrorSink{path: path}
	if path == "-" {
		s.mu.f, s.stderr = os.Stderr, true
		return s, nil
	}
	if path == "" {
		return nil, errors.New("stream: error output: empty file path")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("stream: error output: %w", err)
	}
	s.mu.f = f
	return s, nil
}

func (s *fileErrorSink) Write(_ context.Context, recs []ErrorRecord) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return fmt.Errorf("stream: error output %s: closed", s.path)
	}
	if _, err := s.mu.f.Write(b); err != nil {
		return fmt.Errorf("stream: error output %s: %w", s.path, err)
	}
	if !s.stderr {
		if err := s.mu.f.Sync(); err != nil {
			return fmt.Errorf("stream: error output %s: sync: %w", s.path, err)
		}
	}
	return nil
}

func (s *fileErrorSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	if s.stderr {
		return nil
	}
	if err := s.mu.f.Close(); err != nil {
		return fmt.Errorf("stream: error output %s: %w", s.path, err)
	}
	return nil
}

// storageErrorSink writes each batch as a new object under a prefix.
type storageErrorSink struct {
	st     storage.Storage
	prefix string
	id     string // distinguishes sinks writing to one prefix
	mu     struct {
		sync.Mutex
		seq    int64
		closed bool
	}
}

// NewStorageErrorSink returns an error output that writes each Write's
// records as one new JSON Lines object, prefix/<UTC time>-<sink id>-<seq>.jsonl,
// through st (local, S3, ...): the object is complete and visible when
// Write returns, objects are never overwritten (create-if-absent), and
// names sort by time. Prefix "" writes at st's root.
func NewStorageErrorSink(st storage.Storage, prefix string) ErrorSink {
	var id [4]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return &storageErrorSink{st: st, prefix: strings.Trim(prefix, "/"), id: hex.EncodeToString(id[:])}
}

// storageSinkAttempts bounds the names tried when an object exists.
const storageSinkAttempts = 5

func (s *storageErrorSink) Write(ctx context.Context, recs []ErrorRecord) error {
	if len(recs) == 0 {
		return nil
	}
	b, err := encodeRecords(recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return errors.New("stream: error output: closed")
	}
	for range storageSinkAttempts {
		s.mu.seq++
		name := fmt.Sprintf("%s-%s-%06d.jsonl", time.Now().UTC().Format("20060102T150405.000000000Z"), s.id, s.mu.seq)
		if s.prefix != "" {
			name = s.prefix + "/" + name
		}
		err = storage.WriteFile(ctx, s.st, name, b, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("stream: error output %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("stream: error output: %w", err)
}

func (s *storageErrorSink) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	return nil
}
