package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

// createArgs are the table-creation flags, shared by create and (later)
// ingest's create-on-first-write.
type createArgs struct {
	name       string
	database   string
	tableType  string
	keys       string
	precombine string
	partitions string
	hiveStyle  bool
	urlEncode  bool
	schemaFile string
	payload    string
	keyGen     string
}

func (a *createArgs) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.name, "name", "", "table name (default: the last segment of the location)")
	f.StringVar(&a.database, "database", "default", "database name recorded in hoodie.properties")
	f.StringVar(&a.tableType, "type", "cow", "table type: cow (copy-on-write) or mor (merge-on-read)")
	f.StringVar(&a.keys, "key", "", "record key field(s), comma-separated")
	f.StringVar(&a.precombine, "precombine", "", "ordering (precombine) field: the larger value wins")
	f.StringVar(&a.partitions, "partition", "", "partition field(s), comma-separated (none: non-partitioned)")
	f.BoolVar(&a.hiveStyle, "hive-style", false, "hive-style partition paths (field=value)")
	f.BoolVar(&a.urlEncode, "url-encode", false, "URL-encode partition values")
	f.StringVar(&a.schemaFile, "schema", "", "file holding the data Avro schema (JSON record, no meta fields)")
	f.StringVar(&a.payload, "payload", "event-time", "merge rule across commits: event-time (DefaultHoodieRecordPayload) or latest (OverwriteWithLatestAvroPayload)")
	f.StringVar(&a.keyGen, "key-generator", "", "key generator class (default: Simple, Complex or NonPartitioned from the key and partition fields)")
}

// options validates the flags (before any storage is touched) and turns
// them into table.CreateOptions.
func (a *createArgs) options(location string) (table.CreateOptions, error) {
	var o table.CreateOptions
	name := a.name
	if name == "" {
		loc, err := storage.ParseLocation(location)
		if err != nil {
			return o, err
		}
		name = path.Base(strings.TrimRight(strings.ReplaceAll(loc.Path, "\\", "/"), "/"))
		name = strings.Map(func(r rune) rune {
			if r == '-' || r == '.' || r == ' ' {
				return '_'
			}
			return r
		}, name)
	}
	var tt table.TableType
	switch strings.ToLower(a.tableType) {
	case "cow", "copy_on_write":
		tt = table.CopyOnWrite
	case "mor", "merge_on_read":
		tt = table.MergeOnRead
	default:
		return o, fmt.Errorf("--type %q: want cow or mor", a.tableType)
	}
	keys := splitList(a.keys)
	if len(keys) == 0 {
		return o, fmt.Errorf("--key is required")
	}
	if a.precombine == "" {
		return o, fmt.Errorf("--precombine is required: hoodie dedups by record key and keeps the record with the largest ordering value")
	}
	var payload string
	switch a.payload {
	case "event-time", "":
		payload = table.PayloadDefault
	case "latest":
		payload = table.PayloadOverwriteWithLatest
	default:
		return o, fmt.Errorf("--payload %q: want event-time or latest", a.payload)
	}
	var schema string
	if a.schemaFile != "" {
		b, err := os.ReadFile(a.schemaFile)
		if err != nil {
			return o, fmt.Errorf("--schema: %w", err)
		}
		schema = string(b)
	}
	o = table.CreateOptions{
		Name:                  name,
		Database:              a.database,
		Type:                  tt,
		RecordKeyFields:       keys,
		PartitionFields:       splitList(a.partitions),
		PrecombineField:       a.precombine,
		KeyGenerator:          a.keyGen,
		HiveStylePartitioning: a.hiveStyle,
		URLEncodePartitioning: a.urlEncode,
		Schema:                schema,
		PayloadClass:          payload,
	}
	return o, nil
}

func newCreateCmd(g *globalFlags) *cobra.Command {
	var location string
	var metadataTable bool
	args := &createArgs{}
	var ts timestampArgs
	cmd := &cobra.Command{
		Use:   "create --table LOCATION --key F --precombine F [--partition F,...]",
		Short: "Create an empty Hudi table (writes .hoodie/hoodie.properties)",
		Example: `  hoodie create --table /tmp/events --type mor --key uuid --precombine time --partition dt,game_id,region --hive-style
  hoodie create --table /tmp/shared --key id --precombine ts --metadata-table   # readers listing through the metadata table (Spark's default) see every write
  hoodie create --table s3://bucket/cdc/users --key id --precombine _source_ts --s3-endpoint http://127.0.0.1:7070 --s3-path-style`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := args.options(location)
			if err != nil {
				return err
			}
			if err := ts.apply(&opts); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := g.openStorage(ctx, location)
			if err != nil {
				return err
			}
			tbl, err := table.Create(ctx, st, opts)
			if err != nil {
				return err
			}
			if metadataTable {
				if err := metadata.Enable(ctx, tbl, metadata.Options{}); err != nil {
					return fmt.Errorf("create: the table was created at %s, its metadata table was not (hoodie metadata enable --table %s retries): %w",
						location, location, err)
				}
			}
			return printConfig(cmd, g, location, tbl.Config())
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	cmd.Flags().BoolVar(&metadataTable, "metadata-table", false, "create the table with Hudi's metadata table (its files partition, as Spark does by default), which hoodie's writes then maintain")
	args.bind(cmd)
	ts.bind(cmd)
	return cmd
}

func printConfig(cmd *cobra.Command, g *globalFlags, location string, c *table.Config) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, map[string]any{"location": location, "properties": c.Properties()})
	}
	fmt.Fprintf(out, "table %s at %s\n", c.Name, location)
	fmt.Fprintf(out, "  type %s, record key %s, precombine %s, partitions %s, key generator %s\n",
		c.Type, strings.Join(c.RecordKeyFields, ","), c.PrecombineField, orDash(strings.Join(c.PartitionFields, ",")), c.KeyGeneratorClass())
	if len(c.MetadataPartitions) > 0 {
		fmt.Fprintf(out, "  Hudi metadata table: %s (maintained by every write)\n", strings.Join(c.MetadataPartitions, ","))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
