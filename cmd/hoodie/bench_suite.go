package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hoodie-lake/hoodie/bench"
)

// suiteFlags are the flags of the default `hoodie bench` run (the cases
// interleaved over rounds, against the peers).
type suiteFlags struct {
	rounds   int
	peersDir string
	noPeers  bool
	cases    string
	oneCase  string // hidden: run one hoodie case in this process, print JSON
}

// runOneCase runs one hoodie case in this process and prints its result
// as one JSON line (the suite's child processes).
func runOneCase(ctx context.Context, out io.Writer, cfg bench.CaseConfig) error {
	r, err := bench.RunCase(ctx, cfg)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(r)
}

// runSuite runs the suite: builds the peer module unless --no-peers, runs
// the cases in fresh processes of this executable, prints the medians, the
// stages, the stream and index figures and the targets.
func runSuite(ctx context.Context, out io.Writer, asJSON bool, cc bench.CaseConfig, sf suiteFlags, dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: locating this executable: %w", err)
	}
	cfg := bench.SuiteConfig{Case: cc, Rounds: sf.rounds, Cases: splitList(sf.cases), Dir: dir, Self: []string{self, "bench"}}
	if !sf.noPeers {
		tmp, err := os.MkdirTemp("", "hoodie-bench-peers-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(tmp)
		pdir, err := bench.FindPeersDir(ctx, sf.peersDir)
		if err != nil {
			return fmt.Errorf("bench: the peer module (bench/peers; --peers-dir) was not found: %w; run from the hoodie repository, pass --peers-dir, or --no-peers to run without peers", err)
		}
		fmt.Fprintf(os.Stderr, "bench: building the peer module in %s\n", pdir)
		if cfg.PeersBinary, err = bench.BuildPeers(ctx, pdir, tmp); err != nil {
			return fmt.Errorf("bench: the peer module (--peers-dir %s) did not build: %w; --no-peers runs without peers", pdir, err)
		}
	}
	res, err := bench.RunSuite(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(out, res)
	}
	return printSuite(out, res)
}

// printSuite prints the suite's tables.
func printSuite(out io.Writer, res *bench.SuiteResult) error {
	fmt.Fprintf(out, "Medians over %d round(s), each case in a fresh process; peak RSS is what the write added to the process.\n", res.Rounds)
	if !res.Peers {
		fmt.Fprintln(out, "No peers (--no-peers): the ratios against iceberg-go append are absent.")
	}
	var rows [][]string
	for _, s := range res.Summary {
		ratio := ""
		if s.VsIceberg > 0 {
			ratio = fmt.Sprintf("%.2f", s.VsIceberg)
		}
		rows = append(rows, []string{s.Case, fmt.Sprint(s.Rows), fmt.Sprintf("%.2f", s.Seconds), fmt.Sprintf("%.0f", s.RowsPerSec), ratio,
			fmt.Sprintf("%+.0f", s.PeakRSSAddedMB)})
	}
	if err := printTable(out, []string{"CASE", "ROWS", "SECONDS", "ROWS/S", "X ICEBERG APPEND", "PEAK RSS MB"}, rows); err != nil {
		return err
	}
	rows = nil
	for _, s := range res.Summary {
		for _, st := range s.Stages {
			rows = append(rows, []string{s.Case, st.Stage, fmt.Sprintf("%.2f", st.Seconds), fmt.Sprintf("%+.0f", st.PeakRSSAddedMB), ""})
		}
		for _, h := range s.CommitHeap {
			rows = append(rows, []string{s.Case, "commit: " + h.Stage, "", "", fmt.Sprintf("%.0f", h.PeakHeapMB)})
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(out)
		if err := printTable(out, []string{"CASE", "STAGE", "SECONDS", "PEAK RSS MB", "PEAK GO HEAP MB"}, rows); err != nil {
			return err
		}
	}
	for _, s := range res.Summary {
		if st := s.Stream; st != nil {
			fmt.Fprintln(out)
			err := printTable(out, []string{"STREAM CASE", "SHAPE", "COMMIT MEDIAN MS", "P90 MS", "P99 MS", "FIRST10 MS", "LAST10 MS", "LAST/FIRST", "BYTES WRITTEN", "ENCODED", "BYTES/ENCODED", "LOG FILES"},
				[][]string{{s.Case, fmt.Sprintf("%d × %d", st.Commits, st.RowsPerCommit), ms(st.MedianSeconds), ms(st.P90Seconds), ms(st.P99Seconds), ms(st.First10Median),
					ms(st.Last10Median), fmt.Sprintf("%.2f", st.LastVsFirst), fmt.Sprint(st.BytesWritten), fmt.Sprint(st.EncodedBytes),
					fmt.Sprintf("%.2f", st.BytesVsEncoded), fmt.Sprintf("%d of %d files", st.LogFilesWritten, st.FilesWritten)}})
			if err != nil {
				return err
			}
		}
		if x := s.Index; x != nil {
			fmt.Fprintln(out)
			err := printTable(out, []string{"INDEX KEYS", "INSERTS/S", "LOOKUPS/S (10% HITS)", "LOOKUPS/S (ALL HITS)"},
				[][]string{{fmt.Sprint(x.Keys), fmt.Sprintf("%.0f", x.InsertsPerSec), fmt.Sprintf("%.0f", x.LookupsPerSec), fmt.Sprintf("%.0f", x.LookupsAllHitPerSec)}})
			if err != nil {
				return err
			}
		}
	}
	rows = nil
	for _, t := range res.Targets {
		met := "no"
		switch {
		case !t.Measured:
			met = "n/a"
		case t.Met:
			met = "yes"
		}
		rows = append(rows, []string{t.Name, t.Want, t.Got, met})
	}
	fmt.Fprintln(out)
	return printTable(out, []string{"TARGET", "WANT", "GOT", "MET"}, rows)
}

func ms(s float64) string { return fmt.Sprintf("%.0f", 1000*s) }

// suiteCasesHelp lists the suite's cases for --cases.
func suiteCasesHelp() string {
	return strings.Join(append(append([]string{}, bench.PeerCases...), bench.HoodieCases...), ",")
}
