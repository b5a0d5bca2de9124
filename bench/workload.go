// Package bench holds hoodie's workloads and benchmarks: a generator of game
// events shaped like a real event pipeline (uuid keys, event-time ordering,
// dt/game_id/region partitions, in-batch duplicates and late events; package
// bench/workload, re-exported here), and runners that measure hoodie's
// writes against parquet-go and iceberg-go writes of the same rows. The
// CLI's `hoodie bench` and `go test -bench` call the same code.
package bench

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/bench/workload"
)

// EventSchema is the Arrow schema of game events.
var EventSchema = workload.EventSchema

// Event is one generated event (also the row type of the raw parquet-go
// baseline).
type Event = workload.Event

// WorkloadConfig shapes the generated events.
type WorkloadConfig = workload.Config

// Generator produces events deterministically from a seed.
type Generator = workload.Generator

// NewGenerator returns a generator for cfg.
func NewGenerator(cfg WorkloadConfig) *Generator { return workload.NewGenerator(cfg) }

// ToArrow converts events to one Arrow record batch of EventSchema.
func ToArrow(events []Event) arrow.RecordBatch { return workload.ToArrow(events) }

// regions are the events' region values.
var regions = workload.Regions

type arrowBatch = arrow.RecordBatch

func toBatches(events []Event, size int) []arrowBatch {
	var out []arrowBatch
	for off := 0; off < len(events); off += size {
		out = append(out, ToArrow(events[off:min(len(events), off+size)]))
	}
	return out
}
