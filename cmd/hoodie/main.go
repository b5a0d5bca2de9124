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
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/storage"
)

// exit is swapped by tests.
var exit = os.Exit

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoodie:", err)
		exit(processExitCode(err))
	}
}

// processExitCode is the process status for a failed run: the error's own
// ExitCode() when it carries one (2: rows rejected beyond --max-errors),
// else 1.
func processExitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

// globalFlags are shared by every verb.
type globalFlags struct {
	output      string
	s3Endpoint  string
	s3Region    string
	s3PathStyle bool

	s3ConnectTimeout time.Duration
	s3RequestTimeout time.Duration
	s3MaxAttempts    int
	createBucket     bool
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
	pf.DurationVar(&g.s3ConnectTimeout, "s3-connect-timeout", storage.S3DefaultConnectTimeout, "S3: time to connect (TCP and TLS) per attempt")
	pf.DurationVar(&g.s3RequestTimeout, "s3-request-timeout", storage.S3DefaultRequestTimeout,
		"S3: time a request may wait for the response, or a transfer may go without a byte moving, per attempt (slow transfers that keep moving are not cut off)")
	pf.IntVar(&g.s3MaxAttempts, "s3-max-attempts", storage.S3DefaultMaxAttempts,
		"S3: attempts per request on throttling and server errors (requests that get no answer: at most 3, and none after a request timeout)")
	pf.BoolVar(&g.createBucket, "create-bucket", false, "S3: create the --table location's bucket if it does not exist")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if g.s3ConnectTimeout <= 0 || g.s3RequestTimeout <= 0 {
			return fmt.Errorf("--s3-connect-timeout and --s3-request-timeout must be positive")
		}
		if g.s3MaxAttempts < 1 {
			return fmt.Errorf("--s3-max-attempts must be at least 1")
		}
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
		newStreamCmd(g),
		newAthenaDDLCmd(g),
		newStatsCmd(g),
		newMetadataCmd(g),
	)
	return root
}
