package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Flags and exit statuses shared by ingest and cdc.

// Exit statuses of ingest and cdc.
const (
	// exitRejected: the run completed and committed its good rows, but
	// more rows were rejected (written to the error output) than
	// --max-errors allows.
	exitRejected = 2
)

// exitStatusHelp documents the exit statuses in the commands' help.
const exitStatusHelp = `Exit status: 0 when everything was written (or rejected within --max-errors); 1 on an error
(nothing since the last commit is written); 2 when the run completed and committed its good rows
but rejected more rows than --max-errors allows (default 0: any rejected row). The summary says
how many rows went to the error output.`

// errorBudget is the value of --max-errors: a count of rejected rows
// ("100") or a share of the rows read ("1%").
type errorBudget struct {
	spec  string
	count int64
	pct   float64
	share bool
}

func (b *errorBudget) String() string { return b.spec }
func (b *errorBudget) Type() string   { return "N|P%" }

func (b *errorBudget) Set(s string) error {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return fmt.Errorf("want a count (100) or a share of the rows read (1%%), got %q", s)
		}
		*b = errorBudget{spec: s, pct: v, share: true}
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want a count (100) or a share of the rows read (1%%), got %q", s)
	}
	*b = errorBudget{spec: s, count: n}
	return nil
}

// allows reports whether bad rejected rows among bad+good rows read are
// within the budget.
func (b *errorBudget) allows(bad, good int64) bool {
	if bad == 0 {
		return true
	}
	if b.share {
		return float64(bad)*100 <= b.pct*float64(bad+good)*(1+1e-12)
	}
	return bad <= b.count
}

// bindMaxErrors adds --max-errors to cmd.
func bindMaxErrors(cmd *cobra.Command, b *errorBudget, what string) {
	*b = errorBudget{spec: "0"}
	cmd.Flags().Var(b, "max-errors", "rejected "+what+" allowed before the exit status is 2: a count (100) or a share of the "+what+" read (1%); "+
		"the good ones are committed either way (default 0: any rejected one)")
}

// exitError is an error with its own exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit status for the error.
func (e *exitError) ExitCode() int { return e.code }
