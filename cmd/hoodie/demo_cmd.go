package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

// demoSchema is the data schema of the demo's game-event table.
const demoSchema = `{"type":"record","name":"game_events_record","namespace":"hoodie.game_events","fields":[
{"name":"schema","type":["null","string"],"default":null},
{"name":"type","type":["null","string"],"default":null},
{"name":"uuid","type":["null","string"],"default":null},
{"name":"time","type":["null","long"],"default":null},
{"name":"id","type":["null","long"],"default":null},
{"name":"game_id","type":["null","string"],"default":null},
{"name":"meta","type":["null","string"],"default":null},
{"name":"custom_meta","type":["null","string"],"default":null},
{"name":"dt","type":["null","string"],"default":null},
{"name":"region","type":["null","string"],"default":null}]}`

func newDemoCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "demo [--table LOCATION]",
		Short: "Run the main job on a local table: create a game-event MOR table and show its timeline and files",
		Long: `demo creates a merge-on-read table of game events (record key uuid, precombine time,
partitioned by dt/game_id/region, hive-style), then prints its configuration, timeline
and file groups. Without --table it uses a new directory under the system temp dir.`,
		Example: `  go run ./cmd/hoodie demo
  hoodie demo --table /tmp/game_events`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if location == "" {
				location = filepath.Join(os.TempDir(), "hoodie-demo-"+time.Now().UTC().Format("20060102-150405"), "game_events")
			}
			st, err := g.openStorage(ctx, location)
			if err != nil {
				return err
			}
			tbl, err := table.Create(ctx, st, table.CreateOptions{
				Name:                  "game_events",
				Type:                  table.MergeOnRead,
				RecordKeyFields:       []string{"uuid"},
				PrecombineField:       "time",
				PartitionFields:       []string{"dt", "game_id", "region"},
				HiveStylePartitioning: true,
				Schema:                demoSchema,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := printConfig(cmd, g, location, tbl.Config()); err != nil {
				return err
			}
			fmt.Fprintln(out, "\n$ hoodie timeline --table", location)
			tcmd := newTimelineCmd(g)
			tcmd.SetOut(out)
			tcmd.SetArgs([]string{"--table", location})
			if err := tcmd.ExecuteContext(ctx); err != nil {
				return err
			}
			fmt.Fprintln(out, "\n$ hoodie files --table", location)
			fcmd := newFilesCmd(g)
			fcmd.SetOut(out)
			fcmd.SetArgs([]string{"--table", location})
			return fcmd.ExecuteContext(ctx)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location (default: a new directory under the temp dir)")
	return cmd
}
