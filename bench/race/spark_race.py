"""The Spark half of the race (scripts/race.sh): Apache Hudi 0.15 on Spark
3.5, local[2], inserts DIR/insert.jsonl into a new table, then upserts
DIR/upsert.jsonl, and prints one JSON result per phase (the shape of
bench/race's Result). Only the Hudi writes are timed: each input is read and
cached in memory first, as hoodie's half starts from Arrow batches in memory.
Peak RSS is the Spark JVM's VmHWM, reset before each phase.

    python bench/race/spark_race.py DIR [COPY_ON_WRITE|MERGE_ON_READ] [DRIVER_MEMORY] [STREAM_COMMITS]

With STREAM_COMMITS > 0 a third phase upserts DIR/stream_000.jsonl, ... one
file per deltacommit into a new MERGE_ON_READ table (each file read and cached
before its timed write) and reports the total, the median and p99 commit time.
"""
import math
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "interop"))
import spark_session  # noqa: E402


SCHEMA = ("`schema` STRING, `type` STRING, uuid STRING, time BIGINT, id BIGINT, game_id STRING, "
          "meta STRING, custom_meta STRING, dt STRING, region STRING")


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_hwm(pid: int) -> None:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main() -> None:
    work = sys.argv[1]
    table_type = sys.argv[2] if len(sys.argv) > 2 else "COPY_ON_WRITE"
    memory = sys.argv[3] if len(sys.argv) > 3 else "6g"
    stream_commits = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    spark = spark_session.session(app="hoodie-race", driver_memory=memory)
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    base = os.path.join(work, "spark_table")
    shutil.rmtree(base, ignore_errors=True)
    opts = {
        "hoodie.table.name": "race_events",
        "hoodie.datasource.write.table.type": table_type,
        "hoodie.datasource.write.recordkey.field": "uuid",
        "hoodie.datasource.write.precombine.field": "time",
        "hoodie.datasource.write.partitionpath.field": "dt,game_id,region",
        "hoodie.datasource.write.keygenerator.class": "org.apache.hudi.keygen.ComplexKeyGenerator",
        "hoodie.datasource.write.hive_style_partitioning": "true",
        "hoodie.datasource.write.payload.class": "org.apache.hudi.common.model.DefaultHoodieRecordPayload",
        # What hoodie does too: dedup inserts by key (larger time wins), no
        # metadata table (hoodie keeps its index outside the table).
        "hoodie.combine.before.insert": "true",
        "hoodie.metadata.enable": "false",
        "hoodie.parquet.compression.codec": "snappy",
    }
    for phase, op in (("insert", "insert"), ("upsert", "upsert")):
        df = spark.read.schema(SCHEMA).json(os.path.join(work, f"{phase}.jsonl")).cache()
        n = df.count()
        reset_hwm(pid)
        t0 = time.time()
        df.write.format("hudi").options(**opts).option("hoodie.datasource.write.operation", op).mode("append").save(base)
        secs = time.time() - t0
        r = {"engine": "hudi-spark", "phase": phase, "records": n, "seconds": secs,
             "recordsPerSec": n / secs, "peakRssMB": vm_hwm_mb(pid)}
        df.unpersist()
        if phase == "upsert":
            r["tableRows"] = spark.read.format("hudi").load(base).count()
        proto.write(json.dumps(r) + "\n")
    if stream_commits > 0:
        proto.write(json.dumps(stream(spark, pid, work, dict(opts), stream_commits)) + "\n")
    spark.stop()


def stream(spark, pid, work, opts, commits):
    """Upserts the stream files into a new MERGE_ON_READ table, one
    deltacommit each; only the writes are timed."""
    base = os.path.join(work, "spark_stream")
    shutil.rmtree(base, ignore_errors=True)
    opts["hoodie.table.name"] = "race_stream"
    opts["hoodie.datasource.write.table.type"] = "MERGE_ON_READ"
    opts["hoodie.datasource.write.operation"] = "upsert"
    reset_hwm(pid)
    lat, n = [], 0
    for i in range(commits):
        df = spark.read.schema(SCHEMA).json(os.path.join(work, f"stream_{i:03d}.jsonl")).cache()
        n += df.count()
        t0 = time.time()
        df.write.format("hudi").options(**opts).mode("append").save(base)
        lat.append(time.time() - t0)
        df.unpersist()
    s = sorted(lat)
    median = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    return {"engine": "hudi-spark", "phase": "stream", "records": n, "seconds": sum(lat),
            "recordsPerSec": n / sum(lat), "peakRssMB": vm_hwm_mb(pid), "commits": len(lat),
            "medianCommitSeconds": median, "p99CommitSeconds": s[max(0, math.ceil(0.99 * len(s)) - 1)],
            "tableRows": spark.read.format("hudi").load(base).count()}


if __name__ == "__main__":
    main()
