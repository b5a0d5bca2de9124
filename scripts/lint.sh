#!/usr/bin/env bash
# lint.sh runs staticcheck (installed with `go install` at a pinned version
# when it is not on the PATH) over every package of the module.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH | cut -d: -f1)/bin:$PATH"
version=v0.8.2 # staticcheck 2026.2.2
if ! staticcheck -version 2>/dev/null | grep -q "(${version#v})"; then
	go install "honnef.co/go/tools/cmd/staticcheck@$version"
fi
staticcheck "${@:-./...}"
# The examples are modules of their own (examples/*/go.mod).
if [ $# -eq 0 ]; then
	for d in examples/*/; do
		(cd "$d" && staticcheck ./...)
	done
	# The bench's peer module (parquet-go, iceberg-go), also a module of its own.
	(cd bench/peers && go vet ./... && staticcheck ./...)
fi
