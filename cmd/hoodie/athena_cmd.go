package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/hivepath"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

// Hive classes of Hudi tables, as Hudi's hive sync and Athena's
// documentation register them.
const (
	hudiInputFormat         = "org.apache.hudi.hadoop.HoodieParquetInputFormat"
	hudiRealtimeInputFormat = "org.apache.hudi.hadoop.realtime.HoodieParquetRealtimeInputFormat"
	parquetSerDe            = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	hiveOutputFormat        = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
)

// athenaTable is one table to register.
type athenaTable struct {
	Name        string `json:"name"`
	View        string `json:"view"` // snapshot (COW), read_optimized (_ro) or realtime (_rt)
	InputFormat string `json:"input_format"`
}

// athenaOutput is athena-ddl --output json.
type athenaOutput struct {
	Database   string        `json:"database"`
	Tables     []athenaTable `json:"tables"`
	Partitions int           `json:"partitions"` // partitions of the latest snapshot
	Statements []string      `json:"statements"` // the CREATE TABLE statements, then the ALTER TABLE ... ADD PARTITION ones, without semicolons
}

func newAthenaDDLCmd(g *globalFlags) *cobra.Command {
	var location, database, name, ddlLocation string
	supportTimestamp := true
	cmd := &cobra.Command{
		Use:   "athena-ddl --table LOCATION [--database D] [--name N]",
		Short: "Print the Athena (Glue) DDL registering the table and its partitions",
		Long: `athena-ddl prints CREATE EXTERNAL TABLE statements for Amazon Athena (engine v3, which reads
Hudi table version 6) and one ALTER TABLE ... ADD IF NOT EXISTS PARTITION statement per
partition of the latest snapshot: Athena needs partitions in Glue, and MSCK REPAIR TABLE
finds only hive-style ones. Re-run it (the ALTERs are idempotent) after commits that add
partitions.

Tables, as Hudi's hive sync registers them: a copy-on-write table is one table with
` + hudiInputFormat + `; a merge-on-read table is <name>_ro (read-optimized:
base files only, the same input format) and <name>_rt (snapshot: base files merged with logs,
` + hudiRealtimeInputFormat + `). SerDe
` + parquetSerDe + `, output format
` + hiveOutputFormat + `; SERDEPROPERTIES hoodie.query.as.ro.table
and path, TBLPROPERTIES last_commit_time_sync as hive sync writes them. A table that keeps
Hudi's metadata table (its files partition, which hoodie's writes maintain) also gets
'hudi.metadata-listing-enabled'='TRUE', so Athena lists its files through the metadata table
instead of listing S3.

Columns: the five Hudi meta columns, then the table schema (the latest commit's, else
hoodie.table.create.schema) in Hive types: boolean, int, bigint, float, double, string,
binary (bytes, fixed), decimal(p,s), date, timestamp (timestamp-millis/micros), array<T>,
map<string,T>, struct<f:T,...>. Timestamps are bigint (microseconds or milliseconds since the
epoch) in _rt tables, whose reader fails on timestamp columns, and everywhere with
--support-timestamp=false (Hudi hive sync's default). Partition fields are removed from the
columns and become PARTITIONED BY columns (their schema type when primitive, else string);
partition values are read from the partition paths (hive-style or plain, URL-decoded when the
table URL-encodes them).

LOCATION is the table location (s3://); --location overrides it, e.g. for a table written
locally and copied to S3.`,
		Example: `  hoodie athena-ddl --table s3://bucket/events --database lake
  hoodie athena-ddl --table s3://bucket/events --name events_v2 --output json | jq -r '.statements[]'
  hoodie athena-ddl --table /tmp/events --location s3://bucket/events > events.sql`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, tl, err := g.openTableForRead(ctx, location)
			if err != nil {
				return err
			}
			cfg := tbl.Config()
			st := tbl.Storage()
			base := ddlLocation
			if base == "" {
				loc, err := storage.ParseLocation(location)
				if err != nil {
					return err
				}
				base = loc.String()
				if loc.Scheme != "s3" {
					fmt.Fprintf(cmd.ErrOrStderr(), "hoodie: warning: %s is not on S3; Athena reads s3:// locations (use --location)\n", base)
				}
			}
			base = strings.TrimRight(base, "/")
			avro, err := table.SchemaAsOf(ctx, st, tl, "", cfg)
			if err != nil {
				return err
			}
			if avro == "" {
				return fmt.Errorf("athena-ddl: the table has no schema yet (no commit, and no hoodie.table.create.schema: create it with --schema)")
			}
			sch, err := schema.ParseAvro([]byte(avro))
			if err != nil {
				return fmt.Errorf("athena-ddl: table schema: %w", err)
			}
			view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
			if err != nil {
				return err
			}
			if name == "" {
				name = cfg.Name
			}
			if database == "" {
				database = cfg.Database
			}
			if database == "" {
				database = "default"
			}
			var tables []athenaTable
			if cfg.Type == table.MergeOnRead {
				tables = []athenaTable{{Name: name + "_ro", View: "read_optimized", InputFormat: hudiInputFormat},
					{Name: name + "_rt", View: "realtime", InputFormat: hudiRealtimeInputFormat}}
			} else {
				tables = []athenaTable{{Name: name, View: "snapshot", InputFormat: hudiInputFormat}}
			}
			parts, err := partitionSpecs(cfg, view.Partitions())
			if err != nil {
				return err
			}
			lastCommit := ""
			if inst, ok := tl.LastCompletedCommit(); ok {
				lastCommit = inst.Timestamp
			}
			// Athena lists files through the metadata table when the table
			// property says so (Athena's "Use Hudi metadata for improved
			// performance"); only a complete files partition may be used.
			listing := slices.Contains(cfg.MetadataPartitions, metadata.FilesPartition)
			var stmts []string
			for _, t := range tables {
				ts := supportTimestamp && t.View != "realtime"
				ddl, err := createTableDDL(database, t, sch, cfg, base, ts, lastCommit, listing)
				if err != nil {
					return err
				}
				stmts = append(stmts, ddl)
			}
			for _, t := range tables {
				for _, p := range parts {
					stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s.%s ADD IF NOT EXISTS PARTITION (%s) LOCATION %s",
						ident(database), ident(t.Name), p.spec, literal(base+"/"+p.path)))
				}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, athenaOutput{Database: database, Tables: tables, Partitions: len(parts), Statements: nonNil(stmts)})
			}
			for _, s := range stmts {
				if _, err := fmt.Fprintf(out, "%s;\n\n", s); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.StringVar(&database, "database", "", "Glue database (default: hoodie.database.name, else default)")
	f.StringVar(&name, "name", "", "table name (default: hoodie.table.name; merge-on-read tables get _ro and _rt)")
	f.StringVar(&ddlLocation, "location", "", "LOCATION to register (default: the table location)")
	f.BoolVar(&supportTimestamp, "support-timestamp", true, "declare timestamp columns as timestamp in copy-on-write and _ro tables (false: bigint, as Hudi hive sync's default)")
	return cmd
}

// partitionSpec is one partition: its path and its PARTITION (...) spec.
type partitionSpec struct {
	path string
	spec string
}

// partitionSpecs parses partition paths into PARTITION specs, as Hudi's
// MultiPartKeysValueExtractor does: one path segment per partition field,
// "field=" stripped from hive-style segments.
func partitionSpecs(cfg *table.Config, paths []string) ([]partitionSpec, error) {
	if len(cfg.PartitionFields) == 0 {
		return nil, nil
	}
	var out []partitionSpec
	for _, p := range paths {
		segs := strings.Split(p, "/")
		if len(segs) != len(cfg.PartitionFields) {
			return nil, fmt.Errorf("athena-ddl: partition path %q has %d segments, the table %d partition fields (%s)",
				p, len(segs), len(cfg.PartitionFields), strings.Join(cfg.PartitionFields, ","))
		}
		var spec []string
		for i, f := range cfg.PartitionFields {
			v := segs[i]
			if cfg.HiveStylePartitioning {
				rest, ok := strings.CutPrefix(v, f+"=")
				if !ok {
					return nil, fmt.Errorf("athena-ddl: partition path %q: segment %q is not %s=value", p, v, f)
				}
				v = rest
			}
			if cfg.URLEncodePartitioning {
				v = hivepath.Unescape(v)
			}
			spec = append(spec, ident(f)+" = "+literal(v))
		}
		out = append(out, partitionSpec{path: p, spec: strings.Join(spec, ", ")})
	}
	return out, nil
}

// createTableDDL is the CREATE TABLE statement of t. Its TBLPROPERTIES
// hold last_commit_time_sync (when there is a commit) and, with
// metadataListing, 'hudi.metadata-listing-enabled'='TRUE': Athena then
// lists files through the table's Hudi metadata table.
func createTableDDL(database string, t athenaTable, sch *schema.Schema, cfg *table.Config, base string, supportTimestamp bool, lastCommit string,
	metadataListing bool) (string, error) {
	isPart := map[string]bool{}
	for _, p := range cfg.PartitionFields {
		isPart[strings.ToLower(p)] = true
	}
	var cols []string
	for _, m := range schema.MetaFields {
		cols = append(cols, "  "+ident(m)+" string")
	}
	for _, f := range sch.Fields {
		if isPart[strings.ToLower(f.Name)] {
			continue
		}
		ht, err := hiveType(f.Type, supportTimestamp)
		if err != nil {
			return "", fmt.Errorf("athena-ddl: column %s: %w", f.Name, err)
		}
		cols = append(cols, "  "+ident(f.Name)+" "+ht)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s.%s (\n%s)\n", ident(database), ident(t.Name), strings.Join(cols, ",\n"))
	if len(cfg.PartitionFields) > 0 {
		var pcols []string
		for _, p := range cfg.PartitionFields {
			pt := "string"
			if f, ok := sch.Field(p); ok {
				pt = partitionType(f.Type)
			}
			pcols = append(pcols, "  "+ident(p)+" "+pt)
		}
		fmt.Fprintf(&b, "PARTITIONED BY (\n%s)\n", strings.Join(pcols, ",\n"))
	}
	fmt.Fprintf(&b, "ROW FORMAT SERDE\n  %s\n", literal(parquetSerDe))
	fmt.Fprintf(&b, "WITH SERDEPROPERTIES (\n  'hoodie.query.as.ro.table' = %s,\n  'path' = %s)\n", literal(fmt.Sprint(t.View == "read_optimized")), literal(base))
	fmt.Fprintf(&b, "STORED AS INPUTFORMAT\n  %s\nOUTPUTFORMAT\n  %s\n", literal(t.InputFormat), literal(hiveOutputFormat))
	fmt.Fprintf(&b, "LOCATION\n  %s", literal(base))
	var props []string
	if lastCommit != "" {
		props = append(props, "  'last_commit_time_sync' = "+literal(lastCommit))
	}
	if metadataListing {
		props = append(props, "  'hudi.metadata-listing-enabled' = 'TRUE'")
	}
	if len(props) > 0 {
		fmt.Fprintf(&b, "\nTBLPROPERTIES (\n%s)", strings.Join(props, ",\n"))
	}
	return b.String(), nil
}

// hiveType maps a schema type to its Hive type, as Hudi's hive sync maps
// the Parquet schema of the base files (HiveSchemaUtil).
func hiveType(t *schema.Type, supportTimestamp bool) (string, error) {
	switch t.Kind {
	case schema.Boolean:
		return "boolean", nil
	case schema.Int:
		return "int", nil
	case schema.Long:
		return "bigint", nil
	case schema.Float:
		return "float", nil
	case schema.Double:
		return "double", nil
	case schema.String:
		return "string", nil
	case schema.Bytes, schema.Fixed:
		return "binary", nil
	case schema.Decimal:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	case schema.Date:
		return "date", nil
	case schema.TimestampMicros, schema.TimestampMillis, schema.LocalTimestampMicros, schema.LocalTimestampMillis:
		if supportTimestamp {
			return "timestamp", nil
		}
		return "bigint", nil
	case schema.Array:
		it, err := hiveType(t.Items, supportTimestamp)
		if err != nil {
			return "", err
		}
		return "array<" + it + ">", nil
	case schema.Map:
		vt, err := hiveType(t.Values, supportTimestamp)
		if err != nil {
			return "", err
		}
		return "map<string," + vt + ">", nil
	case schema.Record:
		if len(t.Fields) == 0 {
			return "", fmt.Errorf("a struct needs at least one field")
		}
		var fs []string
		for _, f := range t.Fields {
			ft, err := hiveType(f.Type, supportTimestamp)
			if err != nil {
				return "", fmt.Errorf("%s: %w", f.Name, err)
			}
			fs = append(fs, nestedName(f.Name)+":"+ft)
		}
		return "struct<" + strings.Join(fs, ",") + ">", nil
	}
	return "", fmt.Errorf("type %s has no Hive equivalent", t.Kind)
}

// partitionType is a partition column's type: the column's type when it
// is a primitive whose partition path value parses as that type, else
// string.
func partitionType(t *schema.Type) string {
	switch t.Kind {
	case schema.Boolean, schema.Int, schema.Long, schema.Float, schema.Double, schema.Date, schema.Decimal, schema.String:
		ht, _ := hiveType(t, false)
		return ht
	}
	return "string"
}

var plainIdent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// nestedName is a struct field name in a type string: bare when it is a
// plain identifier, else backquoted.
func nestedName(n string) string {
	if plainIdent.MatchString(n) {
		return n
	}
	return ident(n)
}

// ident backquotes a Hive identifier (Athena needs it for names starting
// with an underscore).
func ident(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// literal single-quotes a string.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
