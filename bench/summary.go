package bench

import "fmt"

// summarize computes each case's medians over its rounds, and its rows/s
// against the same round's unpartitioned iceberg-go append.
func summarize(cases []string, runs []CaseResult) []CaseSummary {
	iceberg := map[int]float64{}
	for _, r := range runs {
		if r.Case == CaseIceberg {
			iceberg[r.Round] = r.RowsPerSec
		}
	}
	var out []CaseSummary
	for _, c := range cases {
		var rs []CaseResult
		for _, r := range runs {
			if r.Case == c {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		field := func(f func(CaseResult) float64) float64 {
			xs := make([]float64, 0, len(rs))
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			return median(xs)
		}
		s := CaseSummary{Case: c, Rounds: len(rs), Rows: rs[0].Rows, Note: rs[0].Note,
			Seconds:        field(func(r CaseResult) float64 { return r.Seconds }),
			RowsPerSec:     field(func(r CaseResult) float64 { return r.RowsPerSec }),
			PeakRSSAddedMB: field(func(r CaseResult) float64 { return r.PeakRSSAddedMB }),
		}
		var ratios []float64
		for _, r := range rs {
			if v := iceberg[r.Round]; v > 0 && r.Index == nil { // the index case's rows are keys
				ratios = append(ratios, r.RowsPerSec/v)
			}
		}
		s.VsIceberg = median(ratios)
		for i, st := range rs[0].Stages {
			s.Stages = append(s.Stages, StageRSS{Stage: st.Stage,
				Seconds:        field(func(r CaseResult) float64 { return stageAt(r, i).Seconds }),
				PeakRSSAddedMB: field(func(r CaseResult) float64 { return stageAt(r, i).PeakRSSAddedMB })})
		}
		for i, h := range rs[0].CommitHeap {
			s.CommitHeap = append(s.CommitHeap, StageHeap{Stage: h.Stage, PeakHeapMB: field(func(r CaseResult) float64 {
				if i < len(r.CommitHeap) {
					return r.CommitHeap[i].PeakHeapMB
				}
				return 0
			})})
		}
		if rs[0].Stream != nil {
			s.Stream = streamMedians(rs)
		}
		if rs[0].Index != nil {
			s.Index = &IndexResult{Keys: rs[0].Index.Keys, Lookups: rs[0].Index.Lookups,
				InsertsPerSec:       field(func(r CaseResult) float64 { return r.Index.InsertsPerSec }),
				LookupsPerSec:       field(func(r CaseResult) float64 { return r.Index.LookupsPerSec }),
				LookupsAllHitPerSec: field(func(r CaseResult) float64 { return r.Index.LookupsAllHitPerSec })}
		}
		out = append(out, s)
	}
	return out
}

func stageAt(r CaseResult, i int) StageRSS {
	if i < len(r.Stages) {
		return r.Stages[i]
	}
	return StageRSS{}
}

// streamMedians is the median over rounds of each stream figure (commit
// latencies are kept per round in the runs, not here).
func streamMedians(rs []CaseResult) *StreamResult {
	f := func(g func(*StreamResult) float64) float64 {
		var xs []float64
		for _, r := range rs {
			if r.Stream != nil {
				xs = append(xs, g(r.Stream))
			}
		}
		return median(xs)
	}
	s0 := rs[0].Stream
	return &StreamResult{Commits: s0.Commits, RowsPerCommit: s0.RowsPerCommit,
		MedianSeconds:   f(func(s *StreamResult) float64 { return s.MedianSeconds }),
		P90Seconds:      f(func(s *StreamResult) float64 { return s.P90Seconds }),
		P99Seconds:      f(func(s *StreamResult) float64 { return s.P99Seconds }),
		First10Median:   f(func(s *StreamResult) float64 { return s.First10Median }),
		Last10Median:    f(func(s *StreamResult) float64 { return s.Last10Median }),
		LastVsFirst:     f(func(s *StreamResult) float64 { return s.LastVsFirst }),
		BytesWritten:    int64(f(func(s *StreamResult) float64 { return float64(s.BytesWritten) })),
		EncodedBytes:    int64(f(func(s *StreamResult) float64 { return float64(s.EncodedBytes) })),
		BytesVsEncoded:  f(func(s *StreamResult) float64 { return s.BytesVsEncoded }),
		FilesWritten:    int(f(func(s *StreamResult) float64 { return float64(s.FilesWritten) })),
		LogFilesWritten: int(f(func(s *StreamResult) float64 { return float64(s.LogFilesWritten) })),
		TableBytes:      int64(f(func(s *StreamResult) float64 { return float64(s.TableBytes) })),
	}
}

// targets checks the targets against the medians.
func targets(sum []CaseSummary, cfg CaseConfig) []Target {
	by := map[string]CaseSummary{}
	for _, s := range sum {
		by[s.Case] = s
	}
	var out []Target
	add := func(name, want string, measured bool, got string, met bool) {
		if !measured {
			got, met = "not measured", false
		}
		out = append(out, Target{Name: name, Want: want, Got: got, Measured: measured, Met: met})
	}
	ice, hasIce := by[CaseIceberg]
	ins, hasIns := by[CaseInsert]
	add("insert rows/s vs iceberg-go append", "≥ 1.0×, peak RSS added ≤ iceberg-go's", hasIce && hasIns,
		fmt.Sprintf("%.2f×, +%.0f MB vs +%.0f MB", ins.VsIceberg, ins.PeakRSSAddedMB, ice.PeakRSSAddedMB),
		ins.VsIceberg >= 1.0 && ins.PeakRSSAddedMB <= ice.PeakRSSAddedMB)
	mor, hasMOR := by[CaseUpsertMOR]
	add("MOR upsert rows/s vs iceberg-go append", "≥ 0.5×", hasIce && hasMOR, fmt.Sprintf("%.2f×", mor.VsIceberg), mor.VsIceberg >= 0.5)
	st, hasStream := by[CaseStream]
	hasStream = hasStream && st.Stream != nil
	s := st.Stream
	if s == nil {
		s = &StreamResult{}
	}
	shape := fmt.Sprintf(" (%d × %d rows)", s.Commits, s.RowsPerCommit)
	add("stream commit latency, median"+shape, "≤ 150 ms", hasStream, fmt.Sprintf("%.0f ms", 1000*s.MedianSeconds), s.MedianSeconds <= 0.150)
	add("stream commit latency, p99", "≤ 400 ms", hasStream, fmt.Sprintf("%.0f ms", 1000*s.P99Seconds), s.P99Seconds <= 0.400)
	add("stream last-10 ÷ first-10 median", "≤ 1.2", hasStream, fmt.Sprintf("%.2f", s.LastVsFirst), s.LastVsFirst <= 1.2)
	add("stream bytes written ÷ batches' encoded size", "≤ 1.5", hasStream, fmt.Sprintf("%.2f", s.BytesVsEncoded), s.BytesVsEncoded <= 1.5)
	if sp, ok := by[CaseStreamParquet]; ok && sp.Stream != nil {
		p := sp.Stream
		add("stream_parquet (Parquet log blocks, zstd) commit latency, median", "≤ 150 ms", true, fmt.Sprintf("%.0f ms", 1000*p.MedianSeconds), p.MedianSeconds <= 0.150)
		add("stream_parquet commit latency, p99", "≤ 400 ms", true, fmt.Sprintf("%.0f ms", 1000*p.P99Seconds), p.P99Seconds <= 0.400)
		add("stream_parquet last-10 ÷ first-10 median", "≤ 1.2", true, fmt.Sprintf("%.2f", p.LastVsFirst), p.LastVsFirst <= 1.2)
		add("stream_parquet bytes written ÷ batches' encoded size", "≤ 1.5", true, fmt.Sprintf("%.2f", p.BytesVsEncoded), p.BytesVsEncoded <= 1.5)
	}
	idx, hasIdx := by[CaseIndex]
	hasIdx = hasIdx && idx.Index != nil
	x := idx.Index
	if x == nil {
		x = &IndexResult{Keys: int64(cfg.IndexKeys)}
	}
	at := fmt.Sprintf(" at %s keys", humanCount(x.Keys))
	add("index lookups/s (10 % hits)"+at, "≥ 1 M/s", hasIdx, fmt.Sprintf("%.2f M/s", x.LookupsPerSec/1e6), x.LookupsPerSec >= 1e6)
	add("index inserts/s"+at, "≥ 1 M/s", hasIdx, fmt.Sprintf("%.2f M/s", x.InsertsPerSec/1e6), x.InsertsPerSec >= 1e6)
	return out
}

// humanCount prints 10000000 as 10 M and 200000 as 200 k.
func humanCount(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return fmt.Sprintf("%g M", float64(n)/1e6)
	case n >= 1_000 && n%100 == 0:
		return fmt.Sprintf("%g k", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
