#!/usr/bin/env bash
# spark.sh sets up what hoodie's Spark interop tests and the race need:
# pyspark 3.5 in the project's Python environment (scripts/pyenv.sh) and an
# Apache Hudi Spark 3.5 bundle jar (0.15.0 unless a version is given),
# resolved once with Maven into the cache directory. It prints the jar's path.
#
#   scripts/spark.sh            # prints e.g. ~/.cache/hoodie/spark/jars/hudi-spark3.5-bundle_2.12-0.15.0.jar
#   scripts/spark.sh 1.0.2      # the Hudi 1.0.2 bundle (the reader matrix's second Spark)
#
# Needs Java 17 and Maven (mvn) on the first run; HOODIE_SPARK_JAR names an
# existing jar instead (for the default version only).
set -euo pipefail
HUDI_VERSION=${1:-0.15.0}
case "$HUDI_VERSION" in
*[!0-9.]* | "") echo "spark.sh: bad Hudi version '$HUDI_VERSION'" >&2; exit 2 ;;
esac
ARTIFACT=org.apache.hudi:hudi-spark3.5-bundle_2.12:$HUDI_VERSION
cd "$(dirname "$0")/.."
bash scripts/pyenv.sh >/dev/null
if [ -n "${HOODIE_SPARK_JAR:-}" ] && [ $# -eq 0 ]; then
	[ -f "$HOODIE_SPARK_JAR" ] || { echo "spark.sh: HOODIE_SPARK_JAR=$HOODIE_SPARK_JAR: no such file" >&2; exit 1; }
	echo "$HOODIE_SPARK_JAR"
	exit 0
fi
command -v java >/dev/null || { echo "spark.sh: java not found (Spark needs Java 17)" >&2; exit 1; }
dir=${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/spark/jars
jar="$dir/hudi-spark3.5-bundle_2.12-$HUDI_VERSION.jar"
if [ ! -s "$jar" ]; then
	command -v mvn >/dev/null || { echo "spark.sh: mvn not found (needed once to fetch $ARTIFACT)" >&2; exit 1; }
	mkdir -p "$dir"
	tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mvn -B -q dependency:copy -Dartifact="$ARTIFACT" -Dtransitive=false \
		-DoutputDirectory="$tmp" -Dmdep.useBaseVersion=true >&2
	mv -f "$tmp/$(basename "$jar")" "$jar"
fi
echo "$jar"
