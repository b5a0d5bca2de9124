#!/usr/bin/env bash
# spark.sh sets up what hoodie's Spark interop tests and the race need:
# pyspark 3.5 in the project's Python environment (scripts/pyenv.sh) and the
# Apache Hudi 0.15.0 Spark 3.5 bundle jar, resolved once with Maven into the
# cache directory. It prints the jar's path.
#
#   scripts/spark.sh            # prints e.g. ~/.cache/hoodie/spark/jars/hudi-spark3.5-bundle_2.12-0.15.0.jar
#
# Needs Java 17 and Maven (mvn) on the first run; HOODIE_SPARK_JAR names an
# existing jar instead.
set -euo pipefail
HUDI_VERSION=0.15.0
ARTIFACT=org.apache.hudi:hudi-spark3.5-bundle_2.12:$HUDI_VERSION
cd "$(dirname "$0")/.."
bash scripts/pyenv.sh >/dev/null
if [ -n "${HOODIE_SPARK_JAR:-}" ]; then
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
