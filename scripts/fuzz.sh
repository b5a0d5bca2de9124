#!/usr/bin/env bash
# fuzz.sh runs every native Go fuzz target of the module for a short time:
# one `go test -fuzz` per target (-fuzz takes one target per package). The
# seed corpora (f.Add and testdata/fuzz/FuzzX/) also run with the normal
# test suite; this adds FUZZTIME of mutation per target on top.
#
#   bash scripts/fuzz.sh                        # every target, FUZZTIME (6s) each
#   FUZZTIME=1m bash scripts/fuzz.sh ./table/   # the targets of some packages
#
# A failing input is written to the package's testdata/fuzz/FuzzX/ by go
# test: commit it with the fix, so that it runs with every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-6s}
# Go minimises every new interesting input for up to a minute by default,
# during which no fuzzing happens; keep it short.
minimize=${FUZZMINIMIZETIME:-2s}

dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(.)

# Targets as "<package dir> <name>", from `func FuzzX(f *testing.F)` in
# test files; vendored and testdata directories are skipped.
mapfile -t targets < <(
	for d in "${dirs[@]}"; do
		grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' "${d%/...}" 2>/dev/null || true
	done | grep -v '/testdata/' | sed -E 's#^(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' | sort -u
)

# run_target fuzzes one target. Go's coordinator sometimes fails a run
# with a bare "context deadline exceeded" when -fuzztime ends while a
# worker is busy, with no failing input (none written to testdata): that
# run is repeated once; a real failure names its input.
run_target() {
	local out
	out=$(mktemp)
	for attempt in 1 2; do
		if go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$1" >"$out" 2>&1; then
			tail -25 "$out"
			rm -f "$out"
			return 0
		fi
		tail -25 "$out"
		if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
			echo "fuzz: $2 ended on the coordinator's deadline without a failing input; running it again"
			continue
		fi
		break
	done
	rm -f "$out"
	return 1
}

total=0
failed=0
failures=()
start=$(date +%s)
for t in "${targets[@]}"; do
	dir=${t% *}
	name=${t#* }
	pkg=./${dir#./}
	total=$((total + 1))
	echo "=== fuzz $pkg $name ($fuzztime)"
	if ! run_target "$pkg" "$name"; then
		failed=$((failed + 1))
		failures+=("$pkg $name")
	fi
done
for f in "${failures[@]}"; do
	echo "FAIL: $f" >&2
done
echo "fuzz: $total targets, $failed failed ($(( $(date +%s) - start ))s)"
[ "$failed" -eq 0 ]
