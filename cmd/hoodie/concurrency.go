package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/writer"
)

// concurrencyFlag is the --concurrency flag of the verbs that write
// records (ingest, cdc). compact, clean and rollback do not take it: they
// are table services that coexist with writers in either mode (compaction
// plans are immutable, cleaning spares pending writes, rollback refuses a
// pending write whose writer is alive).
const concurrencyFlag = "concurrency"

// conflictRetries is how often `--concurrency optimistic` retries a commit
// that conflicted with a concurrent one (each retry plans again from the
// table as the other commit left it).
const conflictRetries = 5

// concurrencyValue parses --concurrency.
type concurrencyValue struct{ mode writer.Concurrency }

func (c *concurrencyValue) String() string {
	if c.mode == writer.Optimistic {
		return "optimistic"
	}
	return "single"
}

func (c *concurrencyValue) Set(s string) error {
	switch s {
	case "single":
		c.mode = writer.SingleWriter
	case "optimistic":
		c.mode = writer.Optimistic
	default:
		return fmt.Errorf("want single or optimistic")
	}
	return nil
}

func (c *concurrencyValue) Type() string { return "single|optimistic" }

// addConcurrencyFlag registers --concurrency on a writing verb, parsed
// into v.
func addConcurrencyFlag(cmd *cobra.Command, v *concurrencyValue) {
	cmd.Flags().Var(v, concurrencyFlag,
		"single: one writer at a time (a run refuses to write alongside another writer of the table); "+
			"optimistic: writers commit concurrently, a commit that conflicts with another is retried (every writer of the table must use it)")
}

// apply returns o with the chosen concurrency.
func (c *concurrencyValue) apply(o writer.Options) writer.Options {
	o.Concurrency = c.mode
	if c.mode == writer.Optimistic && o.ConflictRetries == 0 {
		o.ConflictRetries = conflictRetries
	}
	return o
}
