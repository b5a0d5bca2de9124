package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globalFlags) *cobra.Command {
	cfg := bench.Config{}
	var phases, cpuProfile, types, partitions, s3Location string
	var scaling, s3Requests, createBucket bool
	var rowsPerPartition, commits, touched int
	var sf suiteFlags
	var cc bench.CaseConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure hoodie's writes of game events against parquet-go and iceberg-go in the same run",
		Long: `bench generates game events (uuid keys, event-time ordering, dt/game_id/region partitions,
in-batch duplicates and late events).

By default it runs these cases interleaved over --rounds rounds (default 5), each
case in a fresh process so its peak RSS is its own, and prints the medians, the
rows/s of each as a multiple of iceberg-go's unpartitioned append, the peak RSS
each write added, and the issue's targets with met / not met:
  parquet_go         parquet-go alone, snappy, one goroutine (the floor)      [peer]
  iceberg_append     iceberg-go v0.7 append to a local Hadoop-catalog table   [peer]
  iceberg_append_dt  the same, partitioned by dt (identity)                   [peer]
  insert             hoodie insert into a new COW table (dt/game_id/region)
  upsert_cow         hoodie upsert, 10% updates, into a COW table (built once, untimed)
  upsert_mor         the same into a MOR table
  stream             100 commits of 10k rows (10% updates), MOR, one long-lived
                     writer: commit latency median/p90/p99, last 10 vs first 10,
                     bytes written / the batches' encoded size (parquet-go, snappy)
  index              the record-key index alone: 10M keys put, then 1M lookups
The peer cases come from the module bench/peers (its own go.mod, so hoodie does
not depend on iceberg-go), built with "go build" once per run: --peers-dir
locates it (default: bench/peers of the hoodie module holding the current
directory); --no-peers runs without it, without ratios.

--phases (or --type) runs the older single-process phases instead:
  raw          parquet-go alone writing the same rows (the floor)
  bulk_insert  hoodie bulk insert into a new table
  insert       hoodie insert into a new table
  upsert       hoodie upsert of a batch with 10% updates into an existing table
  compact      (merge-on-read) compaction of the upsert's log files, forced
with records/s, MB/s, peak RSS and each phase's speed as a share of the raw write.
--type mor writes merge-on-read tables (updates become Avro log blocks); --type cow,mor
runs the upsert into both kinds of table against the same raw write.

--scaling times the same small upsert (--records, default 10000, 10% updates into
--touched partitions) into tables of --partitions partitions (default 10 and 7000)
and reports the median commit time and its growth with the table.

--s3-requests counts the S3 requests (GET, HEAD, PUT, POST, LIST, DELETE) of one
upsert commit into tables of --partitions partitions (default 100, 1000 and 5000),
created under --s3-location; against an S3 endpoint (--s3-endpoint or
AWS_ENDPOINT_URL_S3) the HTTP requests are counted by a proxy as well.`,
		Example: `  hoodie bench                                  # every case, 5 rounds, against the peers
  hoodie bench --rounds 3 --cases iceberg_append,insert,stream
  hoodie bench --no-peers --records 200000
  hoodie bench --records 200000 --table-rows 1000000 --phases raw,insert
  hoodie bench --type cow,mor                   # raw, COW upsert, MOR upsert, compaction
  hoodie bench --scaling --partitions 10,7000
  scripts/s3server.sh start /tmp/s3 && . /tmp/s3/env
  hoodie bench --s3-requests --s3-location s3://bench/t --create-bucket
  hoodie bench --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tableTypes, err := parseTableTypes(types)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			parts, err := parseInts(partitions)
			if err != nil {
				return fmt.Errorf("--partitions: %w", err)
			}
			out := cmd.OutOrStdout()
			if sf.oneCase != "" {
				cc.Case, cc.Dir = sf.oneCase, cfg.Dir
				cc.Records, cc.TableRows, cc.Days, cc.UpdateShare, cc.Seed = cfg.Records, cfg.TableRows, cfg.Days, cfg.UpdateShare, cfg.Seed
				return runOneCase(cmd.Context(), out, cc)
			}
			if !scaling && !s3Requests && phases == "" && types == "" {
				cc.Records, cc.TableRows, cc.Days, cc.UpdateShare, cc.Seed = cfg.Records, cfg.TableRows, cfg.Days, cfg.UpdateShare, cfg.Seed
				return runSuite(cmd.Context(), out, g.output == "json", cc, sf, cfg.Dir)
			}
			switch {
			case scaling && s3Requests:
				return fmt.Errorf("--scaling and --s3-requests are separate runs")
			case scaling:
				res, err := bench.RunScaling(cmd.Context(), bench.ScalingConfig{Dir: cfg.Dir, Partitions: parts, RowsPerPartition: rowsPerPartition,
					Records: cfg.Records, UpdateShare: cfg.UpdateShare, Touched: touched, Commits: commits, TableTypes: tableTypes, Seed: cfg.Seed}, os.Stderr)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(out, res)
				}
				var rows [][]string
				for _, r := range res {
					var cs []string
					for _, c := range r.CommitSeconds {
						cs = append(cs, fmt.Sprintf("%.2f", c))
					}
					rows = append(rows, []string{r.TableType, fmt.Sprint(r.Partitions), fmt.Sprint(r.TableRows), fmt.Sprintf("%.1f", r.BuildSeconds),
						fmt.Sprintf("%.2f", r.OpenSeconds), strings.Join(cs, " "), fmt.Sprintf("%.3f", r.MedianSeconds), fmt.Sprintf("%.0f", r.RecordsPerSec),
						fmt.Sprintf("%.2f", r.VsSmallest)})
				}
				return printTable(out, []string{"TYPE", "PARTITIONS", "ROWS", "BUILD S", "OPEN S", "COMMITS S", "MEDIAN S", "REC/S", "X SMALLEST"}, rows)
			case s3Requests:
				opts := g.storageOptions()
				if createBucket {
					loc, err := storage.ParseLocation(s3Location)
					if err != nil {
						return err
					}
					if err := storage.CreateBucket(cmd.Context(), loc.Host, opts.S3); err != nil {
						return err
					}
				}
				res, err := bench.RunS3Requests(cmd.Context(), bench.S3RequestsConfig{Location: s3Location, Options: opts, Dir: cfg.Dir,
					Partitions: parts, RowsPerPartition: rowsPerPartition, Records: cfg.Records, UpdateShare: cfg.UpdateShare,
					Touched: touched, TableTypes: tableTypes, Seed: cfg.Seed}, os.Stderr)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(out, res)
				}
				var rows [][]string
				for _, r := range res {
					row := []string{r.TableType, fmt.Sprint(r.Partitions), fmt.Sprintf("%.2f", r.CommitSeconds)}
					for _, k := range bench.RequestKinds {
						v := fmt.Sprint(r.Ops[k])
						if r.Requests != nil {
							v += "/" + fmt.Sprint(r.Requests[k])
						}
						row = append(row, v)
					}
					rows = append(rows, append(row, fmt.Sprint(r.GetBytes)))
				}
				return printTable(out, append(append([]string{"TYPE", "PARTITIONS", "COMMIT S"}, bench.RequestKinds...), "GET BYTES"), rows)
			}
			switch len(tableTypes) {
			case 1:
				cfg.TableType = tableTypes[0]
			case 2:
				cfg.Phases = bothTypes(splitList(phases))
			}
			if phases != "" && len(tableTypes) < 2 {
				cfg.Phases = splitList(phases)
			}
			res, err := bench.Run(cmd.Context(), cfg, os.Stderr)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(out, res)
			}
			var rows [][]string
			for _, r := range res {
				rows = append(rows, []string{r.Phase, r.TableType, fmt.Sprint(r.Records), fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.0f", r.RecordsPerSec),
					fmt.Sprintf("%.1f", r.MBPerSec), fmt.Sprintf("%.0f", r.PeakRSSMB), fmt.Sprintf("%.2f", r.VsRaw), r.Note})
			}
			return printTable(out, []string{"PHASE", "TYPE", "RECORDS", "SECONDS", "REC/S", "MB/S", "PEAK RSS MB", "X RAW", "NOTE"}, rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.IntVar(&cfg.Records, "records", 0, "events per phase (default 1000000)")
	f.IntVar(&cfg.TableRows, "table-rows", 0, "rows of the existing table the upsert cases write into (default 3000000; --phases: 10000000)")
	f.IntVar(&cfg.Days, "days", 0, "days (dt partitions) the existing table spans (default 3; --phases: 30)")
	f.Float64Var(&cfg.UpdateShare, "update-share", 0, "share of the upsert batch that updates stored events (default 0.10)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "workload seed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process to this file (--phases runs; for a suite case, run it alone: --case NAME --dir DIR)")
	f.StringVar(&phases, "phases", "", "phases to run, comma-separated: "+strings.Join([]string{"raw", "bulk_insert", "insert", "upsert", "compact"}, ",")+
		" (a _cow or _mor suffix pins a phase's table type)")
	f.StringVar(&types, "type", "", "table type: cow (default), mor, or cow,mor (the upsert into both, side by side; the default of --scaling and --s3-requests)")
	f.BoolVar(&scaling, "scaling", false, "time the same small upsert into tables of --partitions partitions")
	f.BoolVar(&s3Requests, "s3-requests", false, "count the S3 requests of one upsert commit into tables of --partitions partitions")
	f.StringVar(&partitions, "partitions", "", "table sizes in partitions, comma-separated (--scaling: 10,7000; --s3-requests: 100,1000,5000)")
	f.IntVar(&rowsPerPartition, "rows-per-partition", 0, "rows per partition of the tables of --scaling (default 200) and --s3-requests (default 10)")
	f.IntVar(&commits, "commits", 0, "--scaling: upserts timed per table (default 5)")
	f.IntVar(&touched, "touched", 0, "--scaling, --s3-requests: partitions each upsert touches (default 5)")
	f.StringVar(&s3Location, "s3-location", "", "--s3-requests: s3://bucket/prefix to create the tables under")
	f.BoolVar(&createBucket, "create-bucket", false, "--s3-requests: create the --s3-location bucket first")
	f.IntVar(&sf.rounds, "rounds", 0, "rounds of interleaved cases (default 5)")
	f.StringVar(&sf.cases, "cases", "", "cases to run each round, comma-separated (default all: "+suiteCasesHelp()+")")
	f.StringVar(&sf.peersDir, "peers-dir", "", "directory of the peer module (default: bench/peers of the hoodie module holding the current directory)")
	f.BoolVar(&sf.noPeers, "no-peers", false, "run without the peer cases (parquet-go, iceberg-go): no ratios")
	f.IntVar(&cc.Batch, "batch", 0, "Arrow batch size handed to the writers (default 100000)")
	f.IntVar(&cc.StreamCommits, "stream-commits", 0, "commits of the stream case (default 100)")
	f.IntVar(&cc.StreamRows, "stream-rows", 0, "rows per commit of the stream case (default 10000)")
	f.IntVar(&cc.IndexKeys, "index-keys", 0, "keys the index case fills the index with (default 10000000)")
	f.StringVar(&sf.oneCase, "case", "", "run one hoodie case in this process and print its result as JSON (used by the suite)")
	_ = f.MarkHidden("case")
	return cmd
}

// parseTableTypes parses --type: cow, mor or both, comma-separated.
func parseTableTypes(s string) ([]table.TableType, error) {
	var out []table.TableType
	for _, t := range splitList(s) {
		switch strings.ToLower(t) {
		case "cow", "copy_on_write":
			out = append(out, table.CopyOnWrite)
		case "mor", "merge_on_read":
			out = append(out, table.MergeOnRead)
		default:
			return nil, fmt.Errorf("--type: unknown table type %q (want cow or mor)", t)
		}
	}
	if len(out) > 2 || (len(out) == 2 && out[0] == out[1]) {
		return nil, fmt.Errorf("--type: want cow, mor or cow,mor")
	}
	return out, nil
}

// bothTypes expands phases for a cow,mor run: each table phase runs once
// per type, raw and compact once. Default: raw, upsert of each, compact.
func bothTypes(phases []string) []string {
	if len(phases) == 0 {
		phases = []string{"raw", "upsert", "compact"}
	}
	var out []string
	for _, p := range phases {
		switch {
		case p == "raw" || p == "compact" || strings.HasSuffix(p, "_cow") || strings.HasSuffix(p, "_mor"):
			out = append(out, p)
		default:
			out = append(out, p+"_cow", p+"_mor")
		}
	}
	return out
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
