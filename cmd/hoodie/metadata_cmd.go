package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/table"
)

// metadataEnableOutput is metadata enable --output json.
type metadataEnableOutput struct {
	Location       string `json:"location"`
	AlreadyEnabled bool   `json:"already_enabled"` // the table had its metadata table already: nothing was written
	Partitions     int    `json:"partitions"`      // partitions the files partition lists
	Files          int    `json:"files"`           // files it lists
	Bytes          int64  `json:"bytes"`           // their total size
}

// metadataDisableOutput is metadata disable --output json.
type metadataDisableOutput struct {
	Location string `json:"location"`
	Disabled bool   `json:"disabled"` // false: the table had no metadata table
}

// metadataValidateOutput is metadata validate --output json.
type metadataValidateOutput struct {
	Location   string             `json:"location"`
	Mismatches []metadataMismatch `json:"mismatches"` // [] when the metadata table agrees with storage
}

// metadataMismatch is one disagreement between the metadata table and
// storage.
type metadataMismatch struct {
	Partition     string  `json:"partition"` // "" for a non-partitioned table
	File          *string `json:"file"`      // null: the whole partition is missing on one side
	Problem       string  `json:"problem"`
	MetadataBytes *int64  `json:"metadata_bytes"` // the size the metadata table lists; null: not listed
	StorageBytes  *int64  `json:"storage_bytes"`  // the size in storage; null: not in storage
}

// metadataLsOutput is metadata ls --output json.
type metadataLsOutput struct {
	Location   string              `json:"location"`
	Partitions []metadataPartition `json:"partitions"`
	Files      int                 `json:"files"`
	Bytes      int64               `json:"bytes"`
}

// metadataPartition is one partition of metadata ls.
type metadataPartition struct {
	Partition string         `json:"partition"` // "" for a non-partitioned table
	Files     []metadataFile `json:"files"`     // by name
	Bytes     int64          `json:"bytes"`
}

// metadataFile is one file of metadata ls.
type metadataFile struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

func newMetadataCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metadata enable|disable|validate|ls --table LOCATION",
		Short: "Enable, disable, validate and list Hudi's metadata table (its files partition)",
		Long: `Hudi's metadata table (.hoodie/metadata, named by hoodie.table.metadata.partitions) lists every
partition and file of the table; Spark and Flink keep it by default and list files through it,
so a file a writer adds without recording it there is invisible to them. hoodie maintains its
"files" partition: every write, compaction, clean, rollback and replace of a table that has one
updates it first, and it is compacted every 10 deltacommits as Hudi does. Tables whose metadata
table has other partitions (column_stats, bloom_filters, record_index) or one being built are
read but not written.

  enable     build the metadata table from a listing of the committed files (no pending
             instant may exist: roll failed writes back first) and name it in hoodie.properties
  disable    stop naming it in hoodie.properties, then delete .hoodie/metadata (as Spark's
             hoodie.metadata.enable=false does); readers list storage again
  validate   compare its listing with storage (every committed file listed with its size, and
             nothing else); exits non-zero on any mismatch, or when there is no metadata table
  ls         the partitions and files readers listing through it see (its files partition,
             whatever other partitions the table keeps)

create --metadata-table and the writing verbs' --metadata-table (ingest, cdc, stream) enable it
too. Run enable and disable while no other writer writes the table.`,
		Example: `  hoodie metadata enable --table /tmp/events
  hoodie metadata validate --table s3://bucket/events --output json
  hoodie metadata ls --table /tmp/events --partition dt=2026-11-01
  hoodie metadata disable --table /tmp/events`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("metadata: name a subcommand: enable, disable, validate or ls")
		},
	}
	cmd.AddCommand(newMetadataEnableCmd(g), newMetadataDisableCmd(g), newMetadataValidateCmd(g), newMetadataLsCmd(g))
	return cmd
}

func newMetadataEnableCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "enable --table LOCATION",
		Short: "Give the table Hudi's metadata table, built from a listing of its committed files",
		Example: `  hoodie metadata enable --table /tmp/events
  hoodie metadata enable --table s3://bucket/events --s3-path-style --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, err := g.openHandle(ctx, location, table.Open)
			if err != nil {
				return err
			}
			already := metadata.Enabled(tbl.Config())
			if err := metadata.Enable(ctx, tbl, metadata.Options{}); err != nil {
				if errors.Is(err, metadata.ErrPendingInstants) {
					return fmt.Errorf("%w\nroll each pending write back (hoodie rollback --table %s INSTANT; hoodie timeline --table %s lists them) or let its writer finish, then enable again",
						err, location, location)
				}
				return err
			}
			l, err := metadataListing(cmd, tbl)
			if err != nil {
				return err
			}
			out := metadataEnableOutput{Location: location, AlreadyEnabled: already, Partitions: len(l.Partitions)}
			for _, p := range l.Partitions {
				for _, size := range l.Files[p] {
					out.Files++
					out.Bytes += size
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			verb := "enabled"
			if already {
				verb = "was already enabled"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "metadata table of %s %s: its files partition lists %d files (%d bytes) in %d partitions\n",
				location, verb, out.Files, out.Bytes, out.Partitions)
			return err
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

func newMetadataDisableCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:     "disable --table LOCATION",
		Short:   "Delete the table's Hudi metadata table (readers then list storage)",
		Example: `  hoodie metadata disable --table /tmp/events`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Also a metadata table with partitions hoodie does not
			// maintain: dropping it makes the table writable again.
			tbl, err := g.openHandle(ctx, location, table.OpenForRepair)
			if err != nil {
				return err
			}
			had := metadata.Enabled(tbl.Config())
			if err := metadata.Disable(ctx, tbl); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), metadataDisableOutput{Location: location, Disabled: had})
			}
			msg := "metadata table of %s deleted: readers list storage\n"
			if !had {
				msg = "%s has no metadata table: nothing to disable\n"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), msg, location)
			return err
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

func newMetadataValidateCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "validate --table LOCATION",
		Short: "Compare the metadata table's listing with storage; non-zero exit on any mismatch",
		Long: `validate compares the files partition of the table's Hudi metadata table with a listing of
storage, as Hudi's HoodieMetadataTableValidator does: every base file of a completed instant
and every log file a completed instant wrote must be listed, with its size, and nothing else
(files of pending instants are left out on both sides). It prints each mismatch and exits
non-zero when there is any, or when the table keeps no metadata table.`,
		Example: `  hoodie metadata validate --table /tmp/events
  hoodie metadata validate --table s3://bucket/events --output json | jq '.mismatches | length'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, err := g.openHandle(ctx, location, table.OpenForRead)
			if err != nil {
				return err
			}
			ms, err := metadata.Validate(ctx, tbl)
			if errors.Is(err, metadata.ErrNotEnabled) {
				return fmt.Errorf("metadata validate: %s keeps no Hudi metadata table (hoodie metadata enable creates one): %w", location, err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				doc := metadataValidateOutput{Location: location, Mismatches: []metadataMismatch{}}
				for _, m := range ms {
					doc.Mismatches = append(doc.Mismatches, metadataMismatch{Partition: m.Partition, File: optString(m.File), Problem: m.Problem,
						MetadataBytes: optSize(m.MetadataSize), StorageBytes: optSize(m.StorageSize)})
				}
				if err := printJSON(out, doc); err != nil {
					return err
				}
			} else if len(ms) == 0 {
				if _, err := fmt.Fprintf(out, "metadata table of %s agrees with storage\n", location); err != nil {
					return err
				}
			} else {
				for _, m := range ms {
					if _, err := fmt.Fprintln(out, m.String()); err != nil {
						return err
					}
				}
			}
			if len(ms) > 0 {
				return fmt.Errorf("metadata validate: %d mismatches between the metadata table of %s and storage", len(ms), location)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

// optSize is a size, or nil for -1 (absent).
func optSize(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

func newMetadataLsCmd(g *globalFlags) *cobra.Command {
	var location, partition string
	cmd := &cobra.Command{
		Use:   "ls --table LOCATION [--partition P]",
		Short: "List the partitions and files of the table as readers listing through its metadata table see them",
		Example: `  hoodie metadata ls --table /tmp/events
  hoodie metadata ls --table /tmp/events --partition dt=2026-11-01 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			partition = strings.Trim(partition, "/")
			ctx := cmd.Context()
			tbl, err := g.openHandle(ctx, location, table.OpenForRead)
			if err != nil {
				return err
			}
			l, err := metadataListing(cmd, tbl)
			if errors.Is(err, metadata.ErrNotEnabled) {
				return fmt.Errorf("metadata ls: %s keeps no Hudi metadata table (hoodie files lists storage): %w", location, err)
			}
			if err != nil {
				return err
			}
			parts := l.Partitions
			if partition != "" {
				if _, ok := l.Files[partition]; !ok {
					return fmt.Errorf("metadata ls: the metadata table of %s lists no partition %q (it lists %d partitions)", location, partition, len(l.Partitions))
				}
				parts = []string{partition}
			}
			doc := metadataLsOutput{Location: location, Partitions: []metadataPartition{}}
			for _, p := range parts {
				mp := metadataPartition{Partition: p, Files: []metadataFile{}}
				for name, size := range l.Files[p] {
					mp.Files = append(mp.Files, metadataFile{Name: name, Bytes: size})
					mp.Bytes += size
				}
				sort.Slice(mp.Files, func(i, j int) bool { return mp.Files[i].Name < mp.Files[j].Name })
				doc.Partitions = append(doc.Partitions, mp)
				doc.Files += len(mp.Files)
				doc.Bytes += mp.Bytes
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), doc)
			}
			return printMetadataLs(cmd.OutOrStdout(), doc)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	cmd.Flags().StringVar(&partition, "partition", "", "list this partition only (its path, e.g. dt=2026-11-01)")
	return cmd
}

// metadataListing is the files partition's listing of tbl at its
// timeline, as readers listing through the metadata table see it (other
// metadata partitions the table keeps are not read), or an error
// matching metadata.ErrNotEnabled.
func metadataListing(cmd *cobra.Command, tbl *table.Table) (*metadata.Listing, error) {
	ctx := cmd.Context()
	m, err := metadata.OpenForRead(tbl.Storage(), tbl.Config())
	if err != nil {
		return nil, err
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	return m.Listing(ctx, tl)
}

// printMetadataLs writes the metadata ls text listing.
func printMetadataLs(out io.Writer, doc metadataLsOutput) error {
	if _, err := fmt.Fprintf(out, "metadata table of %s: %d partitions, %d files, %d bytes\n", doc.Location, len(doc.Partitions), doc.Files, doc.Bytes); err != nil {
		return err
	}
	var rows [][]string
	for _, p := range doc.Partitions {
		part := p.Partition
		if part == "" {
			part = "(none)"
		}
		if len(p.Files) == 0 {
			rows = append(rows, []string{part, "(no files)", "0"})
		}
		for _, f := range p.Files {
			rows = append(rows, []string{part, f.Name, strconv.FormatInt(f.Bytes, 10)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return printTable(out, []string{"PARTITION", "FILE", "BYTES"}, rows)
}
