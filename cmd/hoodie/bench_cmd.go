package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globalFlags) *cobra.Command {
	cfg := bench.Config{}
	var phases, cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure writes of game events against a raw parquet-go write of the same rows",
		Long: `bench generates game events (uuid keys, event-time ordering, dt/game_id/region partitions,
in-batch duplicates and late events) and measures, in one run on this machine:
  raw          parquet-go alone writing the same rows (the floor)
  bulk_insert  hoodie bulk insert into a new table
  insert       hoodie insert into a new table
  upsert       hoodie upsert of a batch with 10% updates into an existing table
with records/s, MB/s, peak RSS and each phase's speed as a share of the raw write.`,
		Example: `  hoodie bench                                  # 1M events, upsert into a 10M-row table
  hoodie bench --records 200000 --table-rows 1000000 --phases raw,insert
  hoodie bench --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if phases != "" {
				cfg.Phases = splitList(phases)
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
			res, err := bench.Run(cmd.Context(), cfg, os.Stderr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, res)
			}
			var rows [][]string
			for _, r := range res {
				rows = append(rows, []string{r.Phase, fmt.Sprint(r.Records), fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.0f", r.RecordsPerSec),
					fmt.Sprintf("%.1f", r.MBPerSec), fmt.Sprintf("%.0f", r.PeakRSSMB), fmt.Sprintf("%.2f", r.VsRaw), r.Note})
			}
			return printTable(out, []string{"PHASE", "RECORDS", "SECONDS", "REC/S", "MB/S", "PEAK RSS MB", "X RAW", "NOTE"}, rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.IntVar(&cfg.Records, "records", 0, "events per phase (default 1000000)")
	f.IntVar(&cfg.TableRows, "table-rows", 0, "rows of the existing table the upsert phase writes into (default 10000000)")
	f.IntVar(&cfg.Days, "days", 0, "days (dt partitions) the existing table spans (default 30)")
	f.Float64Var(&cfg.UpdateShare, "update-share", 0, "share of the upsert batch that updates stored events (default 0.10)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "workload seed")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&phases, "phases", "", "phases to run, comma-separated: "+strings.Join([]string{"raw", "bulk_insert", "insert", "upsert"}, ","))
	return cmd
}
