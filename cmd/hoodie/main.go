// Command hoodie writes, reads and maintains Apache Hudi tables (table
// version 6) on local disk and S3 without a JVM.
//
//	hoodie create --table /tmp/events --type mor --key uuid --precombine ts --partition dt
//	hoodie timeline --table s3://bucket/events
//	hoodie files --table /tmp/events
//	hoodie demo
//
// The command is a thin layer over the hoodie packages: flags are parsed
// into argument structs, validated before any storage is touched, and the
// library does the work. Results go to stdout (text or --output json),
// diagnostics to stderr, and failures exit non-zero.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exit is swapped by tests.
var exit = os.Exit

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoodie:", err)
		exit(1)
	}
}

// globalFlags are shared by every verb.
type globalFlags struct {
	output      string
	s3Endpoint  string
	s3Region    string
	s3PathStyle bool
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "hoodie",
		Short:         "Write, read and maintain Apache Hudi tables without a JVM",
		Long:          "hoodie writes Apache Hudi tables (table version 6, timeline layout 1) that Spark, Athena, Trino and hudi-rs read, on local disk or S3.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table, csv (query) or json")
	pf.StringVar(&g.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS)")
	pf.StringVar(&g.s3Region, "s3-region", "", "S3 region (default: the AWS configuration chain, else us-east-1)")
	pf.BoolVar(&g.s3PathStyle, "s3-path-style", false, "address S3 buckets path-style (endpoint/bucket/key), as most S3-compatible servers need")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		switch g.output {
		case "table", "json", "csv":
			return nil
		}
		return fmt.Errorf("--output %q: want table, csv or json", g.output)
	}
	root.AddCommand(
		newCreateCmd(g),
		newTimelineCmd(g),
		newFilesCmd(g),
		newDemoCmd(g),
		newBenchCmd(g),
		newIngestCmd(g),
		newQueryCmd(g),
		newCompactCmd(g),
		newRollbackCmd(g),
		newCleanCmd(g),
		newCDCCmd(g),
		newAthenaDDLCmd(g),
		newStatsCmd(g),
	)
	return root
}
