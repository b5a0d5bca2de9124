package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/hoodie-lake/hoodie/bench/workload"
)

// event is a game event as the stream reads it: bench/workload's columns,
// named as the table names them.
type event struct {
	Schema     string `json:"schema"`
	Type       string `json:"type"`
	UUID       string `json:"uuid"`
	Time       int64  `json:"time"`
	ID         int64  `json:"id"`
	GameID     string `json:"game_id"`
	Meta       string `json:"meta"`
	CustomMeta string `json:"custom_meta"`
	Dt         string `json:"dt"`
	Region     string `json:"region"`
}

// chunkSize is how many events the source generates at once.
const chunkSize = 10_000

// eventSource hands out the benchmark's events one at a time, as Kafka
// records keyed by uuid with a JSON value. It generates them in chunks
// with bench/workload's generator (uuid keys, event times over two days,
// dt/game_id/region, 2 % in-chunk retries of which 30 % late): a chunk is
// (1 − updateShare) new events and updateShare new versions (a later time,
// a new payload) of events of the previous chunk, shuffled.
type eventSource struct {
	gen         *workload.Generator
	rng         *rand.Rand
	updateShare float64
	prev        []workload.Event
	keys, vals  [][]byte
	next        int
}

func newEventSource(seed uint64, updateShare float64) *eventSource {
	return &eventSource{
		gen:         workload.NewGenerator(workload.Config{Seed: seed}),
		rng:         rand.New(rand.NewPCG(seed, 0x5eed)),
		updateShare: updateShare,
	}
}

// Next returns the next event's key and JSON value.
func (s *eventSource) Next() (key, value []byte, err error) {
	if s.next == len(s.vals) {
		if err := s.fill(); err != nil {
			return nil, nil, err
		}
	}
	key, value = s.keys[s.next], s.vals[s.next]
	s.next++
	return key, value, nil
}

func (s *eventSource) fill() error {
	updates := int(float64(chunkSize) * s.updateShare)
	evs := s.gen.Next(chunkSize - updates)
	if updates > 0 {
		from := s.prev
		if len(from) == 0 {
			from = evs
		}
		evs = append(evs, s.gen.Updates(from, updates)...)
	}
	s.rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	s.keys, s.vals, s.next = s.keys[:0], s.vals[:0], 0
	for _, e := range evs {
		v, err := json.Marshal(event(e))
		if err != nil {
			return fmt.Errorf("streambench: encode event: %w", err)
		}
		s.keys = append(s.keys, []byte(e.UUID))
		s.vals = append(s.vals, v)
	}
	s.prev = evs
	return nil
}
