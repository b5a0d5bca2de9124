// Package workload generates the benchmarks' game events, shaped like a
// real event pipeline: uuid keys, event-time ordering, dt/game_id/region
// partitions, in-batch duplicates and late events. It is a leaf package
// (Arrow only), so bench/peers can generate the same rows without building
// the writer.
package workload

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// EventSchema is the Arrow schema of game events.
var EventSchema = arrow.NewSchema([]arrow.Field{
	{Name: "schema", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "type", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "uuid", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "game_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "meta", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "custom_meta", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "dt", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// Event is one generated event (also the row type of the raw parquet-go
// baseline).
type Event struct {
	Schema     string `parquet:"schema,optional"`
	Type       string `parquet:"type,optional"`
	UUID       string `parquet:"uuid,optional"`
	Time       int64  `parquet:"time,optional"`
	ID         int64  `parquet:"id,optional"`
	GameID     string `parquet:"game_id,optional"`
	Meta       string `parquet:"meta,optional"`
	CustomMeta string `parquet:"custom_meta,optional"`
	Dt         string `parquet:"dt,optional"`
	Region     string `parquet:"region,optional"`
}

// Config shapes the generated events.
type Config struct {
	Seed      uint64
	Games     int     // distinct game_id values; default 4
	Regions   int     // distinct regions; default 3
	Days      int     // distinct dt values; default 2
	DupShare  float64 // share of events that repeat an earlier uuid of the same batch (a retry); default 0.02
	LateShare float64 // share of duplicates that arrive with an older event time; default 0.3
	Start     time.Time
}

func (c *Config) defaults() {
	if c.Games == 0 {
		c.Games = 4
	}
	if c.Regions == 0 {
		c.Regions = 3
	}
	if c.Days == 0 {
		c.Days = 2
	}
	if c.DupShare == 0 {
		c.DupShare = 0.02
	}
	if c.LateShare == 0 {
		c.LateShare = 0.3
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
}

var (
	eventTypes = []string{"session_start", "level_up", "purchase", "match_end", "achievement", "session_end"}
	// Regions are the region values events take (the first Config.Regions).
	Regions = []string{"eu-west", "us-east", "ap-south", "sa-east", "us-west", "eu-north"}
)

// Generator produces events deterministically from a seed.
type Generator struct {
	cfg  Config
	rng  *rand.Rand
	seq  int64
	uuid [16]byte
}

// NewGenerator returns a generator for cfg.
func NewGenerator(cfg Config) *Generator {
	cfg.defaults()
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))}
}

func (g *Generator) newUUID() string {
	binary.LittleEndian.PutUint64(g.uuid[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(g.uuid[8:], g.rng.Uint64())
	g.uuid[6] = g.uuid[6]&0x0f | 0x40
	g.uuid[8] = g.uuid[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], g.uuid[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], g.uuid[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], g.uuid[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], g.uuid[8:10])
	s[23] = '-'
	hex.Encode(s[24:], g.uuid[10:])
	return string(s[:])
}

// SetStart moves the start of the generated events' time range (the first
// day's midnight) for the following calls.
func (g *Generator) SetStart(t time.Time) { g.cfg.Start = t }

// Next generates n events; a DupShare of them repeat earlier uuids of the
// same call (some with an older time: late events).
func (g *Generator) Next(n int) []Event {
	out := make([]Event, 0, n)
	for i := 0; i < n; i++ {
		if len(out) > 0 && g.rng.Float64() < g.cfg.DupShare {
			e := out[g.rng.IntN(len(out))]
			if g.rng.Float64() < g.cfg.LateShare {
				e.Time -= int64(1 + g.rng.IntN(60_000))
			} else {
				e.Time += int64(1 + g.rng.IntN(1000))
			}
			e.CustomMeta = fmt.Sprintf(`{"retry":%d}`, g.rng.IntN(5))
			out = append(out, e)
			continue
		}
		out = append(out, g.event(g.newUUID()))
	}
	return out
}

func (g *Generator) event(uuid string) Event {
	g.seq++
	day := g.rng.IntN(g.cfg.Days)
	ts := g.cfg.Start.Add(time.Duration(day)*24*time.Hour + time.Duration(g.rng.Int64N(int64(24*time.Hour))))
	game := g.rng.IntN(g.cfg.Games)
	return Event{
		Schema:     "game_event/v3",
		Type:       eventTypes[g.rng.IntN(len(eventTypes))],
		UUID:       uuid,
		Time:       ts.UnixMilli(),
		ID:         g.seq,
		GameID:     fmt.Sprintf("game-%03d", game),
		Meta:       fmt.Sprintf(`{"client":"%d.%d.%d","platform":"%s","session":%d}`, 1+g.rng.IntN(3), g.rng.IntN(10), g.rng.IntN(20), []string{"ios", "android", "pc"}[g.rng.IntN(3)], g.rng.IntN(1_000_000)),
		CustomMeta: fmt.Sprintf(`{"score":%d,"level":%d}`, g.rng.IntN(100000), g.rng.IntN(100)),
		Dt:         ts.Format("2006-01-02"),
		Region:     Regions[g.rng.IntN(min(g.cfg.Regions, len(Regions)))],
	}
}

// Updates returns new versions (later time, new payload) of the given
// events: the "10 % updates" of an upsert workload.
func (g *Generator) Updates(events []Event, n int) []Event {
	out := make([]Event, n)
	for i := range out {
		e := events[g.rng.IntN(len(events))]
		e.Time += int64(1 + g.rng.IntN(3_600_000))
		e.CustomMeta = fmt.Sprintf(`{"score":%d,"level":%d,"updated":true}`, g.rng.IntN(100000), g.rng.IntN(100))
		out[i] = e
	}
	return out
}

// ToArrow converts events to one Arrow record batch of EventSchema.
func ToArrow(events []Event) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, EventSchema)
	defer b.Release()
	b.Reserve(len(events))
	s := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	l := func(i int) *array.Int64Builder { return b.Field(i).(*array.Int64Builder) }
	for _, e := range events {
		s(0).Append(e.Schema)
		s(1).Append(e.Type)
		s(2).Append(e.UUID)
		l(3).Append(e.Time)
		l(4).Append(e.ID)
		s(5).Append(e.GameID)
		s(6).Append(e.Meta)
		s(7).Append(e.CustomMeta)
		s(8).Append(e.Dt)
		s(9).Append(e.Region)
	}
	return b.NewRecordBatch()
}
