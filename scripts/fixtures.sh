#!/usr/bin/env bash
# fixtures.sh makes the Spark-written Hudi tables hoodie's tests read and
# prints the directory that holds them, generating them on first use.
#
#   bash scripts/fixtures.sh    # prints e.g. ~/.cache/hoodie/fixtures/hudi-0.15.0-0123456789abcdef
#
# The recipes are testdata/hudi-rs/**/*.sql (the Spark SQL that wrote Apache
# Hudi's hudi-rs sample tables). scripts/make_fixtures.py runs them all in one
# Spark 3.5 + Hudi 0.15.0 session (scripts/pyenv.sh, scripts/spark.sh; needs
# Java 17) and zips each table as <group>/<cow|mor>/[<fmt>/]<name>.zip with
# its .sql beside it, the layout internal/testutil/fixtures reads. The cache
# directory's name carries a hash of the recipes and the generator, so
# changing either generates anew; a complete directory is never rewritten.
# The tables are built in a temporary directory and renamed into place at
# the end, under a lock, so concurrent callers wait for one generation and
# never see a partial one. Progress goes to stderr, only the path to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
HUDI_VERSION=0.15.0
recipes=testdata/hudi-rs
[ -d "$recipes" ] || { echo "fixtures.sh: $recipes missing" >&2; exit 1; }
hash=$( {
	(cd "$recipes" && find . -name '*.sql' -type f | LC_ALL=C sort | xargs sha256sum)
	sha256sum <scripts/make_fixtures.py
} | sha256sum | cut -c1-16)
root=${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/fixtures
dest="$root/hudi-$HUDI_VERSION-$hash"
if [ -f "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi
mkdir -p "$root"
exec 9>"$root/.hudi-$HUDI_VERSION-$hash.lock"
flock 9
if [ -f "$dest/.complete" ]; then # another caller made it while we waited
	echo "$dest"
	exit 0
fi
py=$(bash scripts/pyenv.sh)
jar=$(bash scripts/spark.sh) # the default bundle, 0.15.0
tmp=$(mktemp -d "$root/.build-$hash.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "fixtures.sh: generating the Spark fixture tables into $dest" >&2
HOODIE_SPARK_JAR=$jar HOODIE_HUDI_VERSION=$HUDI_VERSION TZ=UTC \
	"$py" scripts/make_fixtures.py "$recipes" "$tmp/out" "$tmp/work" </dev/null >&2
echo "hudi $HUDI_VERSION, recipes $hash, generated $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/out/.complete"
rm -rf "$dest" # a leftover without .complete
mv -T "$tmp/out" "$dest"
echo "fixtures.sh: done in $(($(date +%s) - start))s" >&2
echo "$dest"
