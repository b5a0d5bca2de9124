package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// timestampArgs are the flags of Hudi's TimestampBasedKeyGenerator: the
// partition path is the time in the partition field, formatted (e.g.
// dt=2024-03-10 from epoch milliseconds). Commands that create tables
// bind them next to the create flags.
type timestampArgs struct {
	typ            string
	unit           string
	inputFormat    string
	outputFormat   string
	timezone       string
	inputTimezone  string
	outputTimezone string
}

// timestampFlagsHelp describes the flags for a command's long help.
const timestampFlagsHelp = `Partition from event time (Hudi's TimestampBasedKeyGenerator): --timestamp-type makes the one
--partition field's value a time and the partition path that time formatted with
--output-dateformat (a Joda pattern, default yyyy-MM-dd; yyyy/MM/dd makes three directory
levels, yyyyMMddHH hourly partitions), in --timezone (default UTC):
  EPOCHMILLISECONDS   numbers are epoch milliseconds
  UNIX_TIMESTAMP      numbers are epoch seconds
  SCALAR              numbers count --timestamp-unit (NANOSECONDS .. DAYS; MICROSECONDS for a
                      timestamp column, DAYS for a date column)
  DATE_STRING         strings parsed with --input-dateformat (Joda patterns, comma-separated,
                      the first that matches wins; e.g. "yyyy-MM-dd'T'HH:mm:ss.SSSZ")
A null value goes where Hudi puts it (1 unit after the epoch: 1970-01-01 in UTC); a value that
does not parse is a bad row. The settings are recorded in hoodie.properties
(hoodie.keygen.timebased.*) so Spark and Athena see the same partitioning; a Spark writer still
needs them as write options (Hudi 0.15 does not read them back, nor record the type: given to a
run on such a table, --timestamp-type is recorded).`

func (a *timestampArgs) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.typ, "timestamp-type", "", "partition from event time: EPOCHMILLISECONDS, UNIX_TIMESTAMP, SCALAR or DATE_STRING (TimestampBasedKeyGenerator; see the help)")
	f.StringVar(&a.unit, "timestamp-unit", "", "unit of SCALAR event times: NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS (default), MINUTES, HOURS or DAYS")
	f.StringVar(&a.inputFormat, "input-dateformat", "", "Joda pattern(s) of DATE_STRING event times, comma-separated (e.g. \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\")")
	f.StringVar(&a.outputFormat, "output-dateformat", "", "Joda pattern of the event-time partition path (default yyyy-MM-dd; e.g. yyyy/MM/dd, yyyyMMddHH)")
	f.StringVar(&a.timezone, "timezone", "", "time zone of event-time partitions, input and output: a region id (Asia/Tokyo), UTC or GMT+hh:mm (default UTC)")
	f.StringVar(&a.inputTimezone, "input-timezone", "", "time zone of DATE_STRING values without an offset, when it differs from the output's (instead of --timezone)")
	f.StringVar(&a.outputTimezone, "output-timezone", "", "time zone the event-time partition path is printed in, when it differs from the input's (instead of --timezone)")
}

// options returns the key generator configuration the flags give, zero
// when none is set, or why the flags do not fit together.
func (a *timestampArgs) options() (table.TimestampKeyGen, error) {
	var ts table.TimestampKeyGen
	if a.typ == "" {
		for name, v := range map[string]string{"--timestamp-unit": a.unit, "--input-dateformat": a.inputFormat,
			"--output-dateformat": a.outputFormat, "--timezone": a.timezone, "--input-timezone": a.inputTimezone,
			"--output-timezone": a.outputTimezone} {
			if v != "" {
				return ts, fmt.Errorf("%s needs --timestamp-type", name)
			}
		}
		return ts, nil
	}
	if a.timezone != "" && (a.inputTimezone != "" || a.outputTimezone != "") {
		return ts, errors.New("--timezone sets both zones: give it or --input-timezone/--output-timezone, not both")
	}
	ts = table.TimestampKeyGen{
		Type:             strings.ToUpper(a.typ),
		ScalarTimeUnit:   strings.ToUpper(a.unit),
		InputDateFormat:  a.inputFormat,
		OutputDateFormat: a.outputFormat,
		Timezone:         a.timezone,
		InputTimezone:    a.inputTimezone,
		OutputTimezone:   a.outputTimezone,
	}
	if ts.OutputDateFormat == "" {
		ts.OutputDateFormat = "yyyy-MM-dd"
	}
	if ts.Timezone == "" && ts.InputTimezone == "" && ts.OutputTimezone == "" {
		// Java's default is the JVM's zone; recording UTC makes every
		// writer agree.
		ts.Timezone = "UTC"
	}
	if ts.ScalarTimeUnit != "" && ts.Type != "SCALAR" {
		return ts, errors.New("--timestamp-unit is for --timestamp-type SCALAR")
	}
	if ts.InputDateFormat != "" && ts.Type != "DATE_STRING" && ts.Type != "MIXED" {
		return ts, errors.New("--input-dateformat is for --timestamp-type DATE_STRING")
	}
	return ts, nil
}

// apply sets the flags' configuration on the options of a table to
// create.
func (a *timestampArgs) apply(o *table.CreateOptions) error {
	ts, err := a.options()
	if err != nil || ts.IsZero() {
		return err
	}
	if o.KeyGenerator != "" {
		if family, _ := table.KeyGeneratorFamily(o.KeyGenerator); family != table.KeyGenTimestampBased {
			return fmt.Errorf("--timestamp-type needs the timestamp-based key generator, not --key-generator %s", o.KeyGenerator)
		}
	}
	if len(o.PartitionFields) != 1 {
		return fmt.Errorf("--timestamp-type needs exactly one --partition field (the event time), got %d", len(o.PartitionFields))
	}
	o.Timestamp = ts
	if _, err := table.NewConfig(*o); err != nil {
		return fmt.Errorf("--timestamp-type: %w", err)
	}
	return nil
}

// reconcile checks the flags against an existing table: they must agree
// with what hoodie.properties records, and a timestamp type the table
// lacks (Hudi 0.15's Spark writer does not record it) is recorded. A
// missing or unreadable table is left to the command.
func (a *timestampArgs) reconcile(ctx context.Context, st storage.Storage) error {
	ts, err := a.options()
	if err != nil || ts.IsZero() {
		return err
	}
	tbl, err := table.Open(ctx, st)
	if err != nil {
		return nil
	}
	cfg := tbl.Config()
	if family, _ := table.KeyGeneratorFamily(cfg.KeyGeneratorClass()); family != table.KeyGenTimestampBased {
		return fmt.Errorf("--timestamp-type: the table's key generator is %s, not the timestamp-based one", cfg.KeyGeneratorClass())
	}
	have := cfg.Timestamp
	var diffs []string
	check := func(flag, key, got, want string) {
		if a.flagSet(flag) && got != want {
			diffs = append(diffs, fmt.Sprintf("%s %q but the table has %s=%q", flag, want, key, got))
		}
	}
	if have.Type != "" {
		check("--timestamp-type", table.KeyTimestampType, have.Type, ts.Type)
	}
	check("--timestamp-unit", table.KeyTimestampScalarTimeUnit, have.ScalarTimeUnit, ts.ScalarTimeUnit)
	check("--input-dateformat", table.KeyTimestampInputDateFormat, have.InputDateFormat, ts.InputDateFormat)
	check("--output-dateformat", table.KeyTimestampOutputDateFormat, have.OutputDateFormat, ts.OutputDateFormat)
	check("--timezone", table.KeyTimestampTimezone, have.Timezone, ts.Timezone)
	check("--input-timezone", table.KeyTimestampInputTimezone, have.InputTimezone, ts.InputTimezone)
	check("--output-timezone", table.KeyTimestampOutputTimezone, have.OutputTimezone, ts.OutputTimezone)
	if len(diffs) > 0 {
		return fmt.Errorf("the event-time flags differ from the table's: %s", strings.Join(diffs, "; "))
	}
	if have.Type != "" {
		return nil
	}
	return tbl.UpdateProperties(ctx, func(props map[string]string) error {
		props[table.KeyTimestampType] = ts.Type
		return nil
	})
}

// flagSet reports whether a flag was given (its value is non-empty).
func (a *timestampArgs) flagSet(name string) bool {
	switch name {
	case "--timestamp-type":
		return a.typ != ""
	case "--timestamp-unit":
		return a.unit != ""
	case "--input-dateformat":
		return a.inputFormat != ""
	case "--output-dateformat":
		return a.outputFormat != ""
	case "--timezone":
		return a.timezone != ""
	case "--input-timezone":
		return a.inputTimezone != ""
	case "--output-timezone":
		return a.outputTimezone != ""
	}
	return false
}
