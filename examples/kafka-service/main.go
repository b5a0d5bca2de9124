// Command kafka-service is a Go service that embeds hoodie's stream engine:
// it reads JSON events from a Kafka topic in a consumer group and upserts
// them into a merge-on-read Hudi table, deduplicated by key and ordered by
// event time, with each commit recording the topic's offsets (exactly
// once across restarts). It stops on SIGTERM/SIGINT after committing what
// it buffered, or once -until records are committed, and prints what the
// table holds.
//
//	go run . -brokers 127.0.0.1:9092 -topic events -group svc -table /tmp/events
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafka-service:", err)
		os.Exit(1)
	}
}

func run() error {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka seed broker")
	topic := flag.String("topic", "events", "topic of JSON events {uuid, ts, region, ...}")
	group := flag.String("group", "kafka-service", "consumer group")
	loc := flag.String("table", "", "table directory (required)")
	until := flag.Int64("until", 0, "stop once this many records are committed (0: run until a signal)")
	flag.Parse()
	if *loc == "" {
		return errors.New("-table is required")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	src, err := kafka.New(kafka.Options{Brokers: []string{*brokers}, Topics: []string{*topic}, Group: *group, Logger: logger})
	if err != nil {
		return err
	}
	svc, err := stream.New(stream.Options{
		Source: src,
		Table: stream.Table{
			Location: *loc,
			Create: &table.CreateOptions{Name: "events", Type: table.MergeOnRead, RecordKeyFields: []string{"uuid"},
				PrecombineField: "ts", PartitionFields: []string{"region"}, HiveStylePartitioning: true},
			Payload: payload.Options{Format: payload.JSON},
		},
		CommitInterval: 2 * time.Second,
		Logger:         logger,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *until > 0 {
		ctx = stopAt(ctx, svc, *until)
	}
	if err := svc.Run(ctx); err != nil {
		return err
	}
	var records, commits int64
	for _, t := range svc.Stats().Tables {
		records += t.Records
		commits += t.Commits
	}
	fmt.Printf("committed %d records in %d commits\n", records, commits)
	return report(*loc)
}

// stopAt returns a context that ends with ctx or once the service has
// committed n records.
func stopAt(ctx context.Context, svc *stream.Service, n int64) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var done int64
			for _, ts := range svc.Stats().Tables {
				done += ts.Messages
			}
			if done >= n {
				cancel()
				return
			}
		}
	}()
	return ctx
}

// report prints the table's row count, read back with hoodie's reader.
func report(loc string) error {
	ctx := context.Background()
	st, err := storage.NewLocal(loc)
	if err != nil {
		return err
	}
	tbl, err := table.Open(ctx, st)
	if err != nil {
		return err
	}
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		return err
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
		r.Release()
	}
	fmt.Printf("the table holds %d rows\n", rows)
	return nil
}
