package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// SuiteConfig configures RunSuite: the cases interleaved over rounds, each
// in a fresh process.
type SuiteConfig struct {
	// Sizes of the cases (Case and Dir are set per run).
	Case CaseConfig
	// Rounds of interleaved cases. Default 5.
	Rounds int
	// Cases to run, in this order each round. Default: every peer case
	// (when PeersBinary is set) and every hoodie case.
	Cases []string
	// Dir is the run's working directory. Default: a new temporary one,
	// removed afterwards.
	Dir string
	// Self is the command line that runs one hoodie case: the case's flags
	// (CaseConfig.Args) are appended. `hoodie bench` passes its own
	// executable and "bench".
	Self []string
	// PeersBinary is the built peer module (BuildPeers); empty runs without
	// the peer cases, so no ratio against iceberg-go is reported.
	PeersBinary string
}

// SuiteResult is a suite run: every case run, the per-case medians over
// rounds and the targets.
type SuiteResult struct {
	Rounds  int           `json:"rounds"`
	Peers   bool          `json:"peers"`
	Config  CaseConfig    `json:"config"`
	Summary []CaseSummary `json:"summary"`
	Targets []Target      `json:"targets"`
	Runs    []CaseResult  `json:"runs"`
}

// CaseSummary is one case's medians over the rounds.
type CaseSummary struct {
	Case       string  `json:"case"`
	Rounds     int     `json:"rounds"`
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rowsPerSec"`
	// VsIceberg is the median over rounds of rows/s ÷ the same round's
	// iceberg-go append (unpartitioned); 0 without peers.
	VsIceberg      float64       `json:"vsIcebergAppend,omitempty"`
	PeakRSSAddedMB float64       `json:"peakRssAddedMB"`
	Stages         []StageRSS    `json:"stages,omitempty"`
	CommitHeap     []StageHeap   `json:"commitHeap,omitempty"`
	Stream         *StreamResult `json:"stream,omitempty"`
	Index          *IndexResult  `json:"index,omitempty"`
	Note           string        `json:"note,omitempty"`
}

// Target is one of the targets and whether the run met it.
type Target struct {
	Name     string `json:"name"`
	Want     string `json:"want"`
	Got      string `json:"got"`
	Measured bool   `json:"measured"` // false: the cases it needs did not run
	Met      bool   `json:"met"`
}

func (s *SuiteConfig) defaults() {
	s.Case.defaults()
	if s.Rounds == 0 {
		s.Rounds = 5
	}
	if len(s.Cases) == 0 {
		if s.PeersBinary != "" {
			s.Cases = append(s.Cases, PeerCases...)
		}
		s.Cases = append(s.Cases, HoodieCases...)
	}
}

// Args are the flags of `hoodie bench` that run this case in a process of
// its own (after the command itself).
func (c CaseConfig) Args() []string {
	return []string{"--case", c.Case, "--dir", c.Dir, "--records", strconv.Itoa(c.Records), "--batch", strconv.Itoa(c.Batch),
		"--seed", strconv.FormatUint(c.Seed, 10), "--update-share", strconv.FormatFloat(c.UpdateShare, 'g', -1, 64),
		"--table-rows", strconv.Itoa(c.TableRows), "--days", strconv.Itoa(c.Days), "--stream-commits", strconv.Itoa(c.StreamCommits),
		"--stream-rows", strconv.Itoa(c.StreamRows), "--index-keys", strconv.Itoa(c.IndexKeys)}
}

// isPeer reports whether the peer module runs the case.
func isPeer(name string) bool {
	for _, p := range PeerCases {
		if p == name {
			return true
		}
	}
	return false
}

// RunSuite runs the cases over the rounds, interleaved (round 1 runs every
// case, then round 2, ...), each case in a fresh process, and summarizes
// them; progress goes to log. The upsert cases' tables are built once
// (untimed, in a process of their own) and copied for each round.
func RunSuite(ctx context.Context, cfg SuiteConfig, log io.Writer) (*SuiteResult, error) {
	cfg.defaults()
	for _, c := range cfg.Cases {
		if isPeer(c) && cfg.PeersBinary == "" {
			return nil, fmt.Errorf("bench: case %s needs the peer module (SuiteConfig.PeersBinary)", c)
		}
		if !isPeer(c) && !isHoodieCase(c) {
			return nil, fmt.Errorf("bench: unknown case %q", c)
		}
	}
	if len(cfg.Self) == 0 {
		return nil, errors.New("bench: SuiteConfig.Self is required (the command that runs one hoodie case)")
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hoodie-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for _, c := range cfg.Cases {
		if c == CaseUpsertCOW || c == CaseUpsertMOR {
			cc := cfg.Case
			cc.Case, cc.Dir = prepareCase+c, filepath.Join(dir, "base", c)
			fmt.Fprintf(log, "bench: building the %s table (%d rows, untimed)\n", c, cc.TableRows)
			if _, err := runProcess(ctx, append(cfg.Self[:len(cfg.Self):len(cfg.Self)], cc.Args()...), log, false); err != nil {
				return nil, err
			}
		}
	}
	out := &SuiteResult{Rounds: cfg.Rounds, Peers: cfg.PeersBinary != "", Config: cfg.Case}
	for round := 1; round <= cfg.Rounds; round++ {
		for _, c := range cfg.Cases {
			r, err := runOne(ctx, cfg, dir, c, round, log)
			if err != nil {
				return nil, err
			}
			out.Runs = append(out.Runs, r)
		}
	}
	out.Summary = summarize(cfg.Cases, out.Runs)
	out.Targets = targets(out.Summary, cfg.Case)
	return out, nil
}

func isHoodieCase(name string) bool {
	for _, h := range HoodieCases {
		if h == name {
			return true
		}
	}
	return false
}

// runOne runs case c of a round in a fresh process and a fresh directory,
// removed afterwards.
func runOne(ctx context.Context, cfg SuiteConfig, dir, c string, round int, log io.Writer) (CaseResult, error) {
	cdir := filepath.Join(dir, fmt.Sprintf("round%d", round), c)
	defer os.RemoveAll(cdir)
	var argv []string
	if isPeer(c) {
		argv = []string{cfg.PeersBinary, "--case", c, "--dir", cdir, "--records", strconv.Itoa(cfg.Case.Records),
			"--batch", strconv.Itoa(cfg.Case.Batch), "--seed", strconv.FormatUint(cfg.Case.Seed, 10)}
	} else {
		if c == CaseUpsertCOW || c == CaseUpsertMOR {
			if err := copyDir(filepath.Join(dir, "base", c), cdir); err != nil {
				return CaseResult{}, fmt.Errorf("bench: copying the %s table: %w", c, err)
			}
		}
		cc := cfg.Case
		cc.Case, cc.Dir = c, cdir
		argv = append(cfg.Self[:len(cfg.Self):len(cfg.Self)], cc.Args()...)
	}
	r, err := runProcess(ctx, argv, log, true)
	if err != nil {
		return CaseResult{}, err
	}
	r.Case, r.Round = c, round
	fmt.Fprintf(log, "bench: round %d %-18s %9d rows %8.2fs %10.0f rows/s  peak RSS +%.0f MB\n", round, c, r.Rows, r.Seconds, r.RowsPerSec, r.PeakRSSAddedMB)
	if s := r.Stream; s != nil {
		fmt.Fprintf(log, "bench:   commits median %.3fs p90 %.3fs p99 %.3fs, last10/first10 %.2f, bytes/encoded %.2f\n",
			s.MedianSeconds, s.P90Seconds, s.P99Seconds, s.LastVsFirst, s.BytesVsEncoded)
	}
	if x := r.Index; x != nil {
		fmt.Fprintf(log, "bench:   index %d keys: %.0f inserts/s, %.0f lookups/s (10%% hits), %.0f lookups/s (all hits)\n",
			x.Keys, x.InsertsPerSec, x.LookupsPerSec, x.LookupsAllHitPerSec)
	}
	return r, nil
}

// runProcess runs argv, passing its stderr to log, and decodes the last
// line of its stdout as a CaseResult when want is set.
func runProcess(ctx context.Context, argv []string, log io.Writer, want bool) (CaseResult, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(log, &stderr)
	if err := cmd.Run(); err != nil {
		return CaseResult{}, fmt.Errorf("bench: %s: %w\n%s", strings.Join(argv, " "), err, tail(stderr.String(), 2000))
	}
	if !want {
		return CaseResult{}, nil
	}
	var last string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			last = sc.Text()
		}
	}
	var r CaseResult
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return CaseResult{}, fmt.Errorf("bench: %s printed no result: %w (stdout %q)", strings.Join(argv, " "), err, tail(stdout.String(), 500))
	}
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// copyDir copies the regular files of the tree src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
