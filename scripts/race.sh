#!/usr/bin/env bash
# race.sh races hoodie against Apache Hudi 0.15 on Spark 3.5 (local[2]) on
# the same game events: 1M inserted into a new table, then an upsert batch of
# 1M (10 % updates of stored events, 90 % new); then the MOR stream shape:
# STREAM_COMMITS (default 100) upserts of STREAM_ROWS (default 10k) events, 10 %
# updates of earlier ones, into a new merge-on-read table, one deltacommit each
# (STREAM_COMMITS=0 skips it). It prints records/s, wall time, commit latency
# and peak RSS per engine and phase, and the ratios, as Markdown tables.
#
#   bash scripts/race.sh                                # copy-on-write, 1M events
#   TABLE_TYPE=MERGE_ON_READ bash scripts/race.sh
#   RECORDS=200000 SPARK_MEMORY=4g bash scripts/race.sh
#
# Sets up pyspark and the Hudi bundle with scripts/spark.sh on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-1000000}
TABLE_TYPE=${TABLE_TYPE:-COPY_ON_WRITE}
SPARK_MEMORY=${SPARK_MEMORY:-6g}
STREAM_COMMITS=${STREAM_COMMITS:-100}
STREAM_ROWS=${STREAM_ROWS:-10000}
py=$(bash scripts/pyenv.sh)
jar=$(bash scripts/spark.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/hoodie-race.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/race" ./bench/race
echo "race: generating $RECORDS events (+ upsert batch) in $work" >&2
"$work/race" gen --dir "$work" --records "$RECORDS" --stream-commits "$STREAM_COMMITS" --stream-rows "$STREAM_ROWS"
echo "race: hoodie ($TABLE_TYPE)" >&2
"$work/race" hoodie --dir "$work" --records "$RECORDS" --table-type "$TABLE_TYPE" --stream-commits "$STREAM_COMMITS" --stream-rows "$STREAM_ROWS" >"$work/hoodie.jsonl"
echo "race: Hudi 0.15 on Spark 3.5, local[2], driver memory $SPARK_MEMORY ($TABLE_TYPE)" >&2
HOODIE_SPARK_JAR=$jar "$py" bench/race/spark_race.py "$work" "$TABLE_TYPE" "$SPARK_MEMORY" "$STREAM_COMMITS" >"$work/spark.jsonl"
"$py" - "$work/hoodie.jsonl" "$work/spark.jsonl" "$TABLE_TYPE" <<'PY'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:3] for l in open(f) if l.strip()]
by = {(r["engine"], r["phase"]): r for r in rows}
print(f"| phase ({sys.argv[3]}) | engine | records | seconds | records/s | peak RSS MB | table rows |")
print("|---|---|---|---|---|---|---|")
for phase in ("insert", "upsert"):
    for eng in ("hoodie", "hudi-spark"):
        r = by[(eng, phase)]
        print(f"| {phase} | {eng} | {r['records']:,} | {r['seconds']:.2f} | {r['recordsPerSec']:,.0f} | {r['peakRssMB']:,.0f} | {r.get('tableRows', '') and format(r['tableRows'], ',')} |")
print()
print("| phase | hoodie ÷ Spark records/s | Spark ÷ hoodie wall time | Spark ÷ hoodie peak RSS |")
print("|---|---|---|---|")
for phase in ("insert", "upsert"):
    h, s = by[("hoodie", phase)], by[("hudi-spark", phase)]
    print(f"| {phase} | {h['recordsPerSec'] / s['recordsPerSec']:.1f}× | {s['seconds'] / h['seconds']:.1f}× | {s['peakRssMB'] / h['peakRssMB']:.1f}× |")
if ("hoodie", "stream") in by:
    h, s = by[("hoodie", "stream")], by[("hudi-spark", "stream")]
    print()
    print(f"| stream (MERGE_ON_READ, {h['commits']} deltacommits of {h['records'] // h['commits']:,}) | engine | records/s | median commit s | p99 commit s | peak RSS MB | table rows |")
    print("|---|---|---|---|---|---|---|")
    for eng, r in (("hoodie", h), ("hudi-spark", s)):
        print(f"| stream | {eng} | {r['recordsPerSec']:,.0f} | {r['medianCommitSeconds']:.3f} | {r['p99CommitSeconds']:.3f} | {r['peakRssMB']:,.0f} | {r['tableRows']:,} |")
    print()
    print(f"stream: hoodie ÷ Spark records/s {h['recordsPerSec'] / s['recordsPerSec']:.1f}×, Spark ÷ hoodie median commit "
          f"{s['medianCommitSeconds'] / h['medianCommitSeconds']:.1f}×, Spark ÷ hoodie peak RSS {s['peakRssMB'] / h['peakRssMB']:.1f}×")
for phase in ("upsert", "stream"):
    if ("hoodie", phase) in by and by[("hoodie", phase)].get("tableRows") != by[("hudi-spark", phase)].get("tableRows"):
        print(f"\nrace: the two {phase} tables differ in row count", file=sys.stderr)
        sys.exit(1)
PY
