"""The Spark half of the race (scripts/race.sh): Apache Hudi 0.15 on Spark
3.5, local[2], inserts DIR/insert.jsonl into a new table, then upserts
DIR/upsert.jsonl, and prints one JSON result per phase (the shape of
bench/race's Result). Only the Hudi writes are timed: each input is read and
cached in memory first, as hoodie's half starts from Arrow batches in memory.
Peak RSS is the Spark JVM's VmHWM, reset before each phase.

    python bench/race/spark_race.py DIR [COPY_ON_WRITE|MERGE_ON_READ] [DRIVER_MEMORY]
"""
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
    spark.stop()


if __name__ == "__main__":
    main()
