#!/usr/bin/env bash
# test.sh runs hoodie's whole test suite on a fresh machine: it installs and
# starts what the tests need (a local S3 server), runs a gofmt check, go vet,
# staticcheck (scripts/lint.sh) and `go test -race` over every package, and
# stops the server again.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh ./table/   # some packages (go test patterns)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH | cut -d: -f1)/bin:$PATH"

state=$(mktemp -d "${TMPDIR:-/tmp}/hoodie-s3.XXXXXX")
cleanup() { bash scripts/s3server.sh stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT
bash scripts/s3server.sh start "$state" >/dev/null
# shellcheck disable=SC1091
. "$state/env"
# The S3 suites must run against the real server: a server that cannot be
# reached fails them instead of skipping them.
export HOODIE_REQUIRE_S3=1

pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet "${pkgs[@]}"
t0=$SECONDS; bash scripts/lint.sh "$@"; echo "staticcheck: clean in $((SECONDS - t0))s"
t0=$SECONDS; bash scripts/fixtures.sh >/dev/null || echo "fixtures: scripts/fixtures.sh failed; the tests that read the Spark fixture tables will fail" >&2; echo "fixtures: Spark fixture tables ready in $((SECONDS - t0))s"
set +e
go test -race -count=1 -timeout 50m -v "${pkgs[@]}" 2>&1 | tee "$state/go-test.log"
status=${PIPESTATUS[0]}
set -e
# A summary line that CI parsers understand.
passed=$(grep -c -- '--- PASS' "$state/go-test.log" || true)
failed=$(grep -c -- '--- FAIL' "$state/go-test.log" || true)
skipped=$(grep -c -- '--- SKIP' "$state/go-test.log" || true)
if [ "$status" -ne 0 ]; then
	grep -B2 -A30 -E -- '--- FAIL|^panic|build failed|\[setup failed\]' "$state/go-test.log" | tail -200 >&2 || true
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
