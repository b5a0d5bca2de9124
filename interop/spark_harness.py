"""A long-lived Spark 3.5 + Apache Hudi 0.15 process for hoodie's Spark
interop tests (interop/spark_test.go): the JVM starts once per test run.

Protocol: one JSON request per line on stdin, one JSON response per line on
stdout, in order. Every response has "ok"; a failed request has "error" (the
Java exception chain, one "Class: message" per cause) and "trace". The first
line written is the ready message {"ok": true, "ready": true, "spark": ...}.
EOF on stdin stops Spark and exits.

Requests ("op"):
  read      {path, query: snapshot|read_optimized|incremental|time_travel,
             begin, end (incremental: begin exclusive, end inclusive), as_of}
            -> {rows: [...]}: every column, meta columns included, one JSON
            object per row, sorted by (_hoodie_partition_path, _hoodie_record_key)
            as interop/hudirs_read.py sorts hudi-rs rows.
  validate  {path} -> Hudi's own view of the table, through the JVM gateway:
            HoodieTableMetaClient (hoodie.properties, checksum, table
            version, timeline layout), the active timeline, every completed
            instant's metadata deserialized (commit JSON, rollback/clean Avro),
            requested rollback plans, the table schema (TableSchemaResolver),
            and the latest base files of every partition
            (HoodieTableFileSystemView over a file listing).
  read_arrow {path, query, options, conf, columns, out} -> {rows: n}: the
            read of "read" (same query types and options; only the given
            columns if any), with the Spark SQL
            settings in conf (e.g. spark.sql.parquet.enableVectorizedReader)
            set for this request only and restored after, written by Spark as
            Parquet to a scratch directory and from there by pyarrow as one
            Arrow IPC file to out (unsorted; no Python row objects, no
            driver-side collect). Used by the reader matrix
            (interop/matrix_test.go).
  write     {path, rows, schema (Spark DDL), options, mode} -> {} : a Hudi
            datasource write (df.write.format("hudi").options(...).mode(...)).
            With {parquet: file} instead of rows and schema, the DataFrame is
            that Parquet file (read with Spark's non-vectorized reader).
  sql       {sql} -> {rows}
  mdt_validate {path} -> {procedure, partitions, file_mismatches, slices,
            slice_mismatches}:
            the metadata table's `files` partition checked against a storage
            listing by Hudi's own code (see Harness.mdt_validate).
"""
import contextlib
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spark_session  # noqa: E402


def java_chain(e) -> str:
    """The Java exception and its causes, one "Class: message" per line."""
    je = getattr(e, "java_exception", None)
    if je is None:
        return f"{type(e).__name__}: {e}"
    lines = []
    seen = 0
    while je is not None and seen < 10:
        lines.append(je.toString())
        je = je.getCause()
        seen += 1
    return "\n".join(lines)


class Harness:
    def __init__(self, spark):
        self.spark = spark
        self.jvm = spark._jvm
        self.hconf = spark._jsc.hadoopConfiguration()

    # --- reads ---------------------------------------------------------

    def read(self, req):
        rows = [row.asDict(recursive=True) for row in self.reader(req).load(req["path"]).collect()]
        rows.sort(key=lambda x: tuple(str(x.get(k) or "") for k in ("_hoodie_partition_path", "_hoodie_record_key", "_hoodie_file_name", "_hoodie_commit_seqno")))
        return {"rows": [canonical(x) for x in rows]}

    def read_arrow(self, req):
        import glob
        import shutil
        import tempfile

        import pyarrow as pa
        import pyarrow.parquet as pq

        # The rows leave Spark through its own Parquet writer (timestamps as
        # TIMESTAMP_MICROS, not INT96) into a scratch directory, then pyarrow
        # turns them into one Arrow IPC file: a collect to the driver would
        # hold the whole table several times in the driver's small heap.
        scratch = tempfile.mkdtemp(prefix="hoodie-read-arrow-", dir=os.path.dirname(req["out"]))
        try:
            with self.conf(req.get("conf")):
                with self.conf({"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                                "spark.sql.parquet.compression.codec": "uncompressed"}):
                    df = self.reader(req).load(req["path"])
                    if req.get("columns"):
                        df = df.select(*[f"`{c}`" for c in req["columns"]])
                    df.write.mode("overwrite").option("parquet.enable.dictionary", "false").parquet(scratch)
            parts = sorted(glob.glob(os.path.join(scratch, "part-*.parquet")))
            tables = [pq.ParquetFile(f).read() for f in parts]
            table = pa.concat_tables(tables) if tables else pa.table({})
            with pa.OSFile(req["out"], "wb") as f, pa.ipc.new_file(f, table.schema) as w:
                w.write_table(table)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return {"rows": table.num_rows}

    @contextlib.contextmanager
    def conf(self, settings):
        """Sets Spark SQL settings for one request, restoring (or unsetting)
        them after."""
        old = {}
        try:
            for k, v in (settings or {}).items():
                old[k] = self.spark.conf.get(k, None)
                self.spark.conf.set(k, str(v))
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    self.spark.conf.unset(k)
                else:
                    self.spark.conf.set(k, v)

    def reader(self, req):
        """The DataFrameReader of a read request (query type and options)."""
        q = req.get("query", "snapshot")
        r = self.spark.read.format("hudi")
        if q == "snapshot":
            r = r.option("hoodie.datasource.query.type", "snapshot")
        elif q == "read_optimized":
            r = r.option("hoodie.datasource.query.type", "read_optimized")
        elif q == "incremental":
            r = r.option("hoodie.datasource.query.type", "incremental")
            r = r.option("hoodie.datasource.read.begin.instanttime", req["begin"])
            if req.get("end"):
                r = r.option("hoodie.datasource.read.end.instanttime", req["end"])
        elif q == "time_travel":
            r = r.option("as.of.instant", req["as_of"])
        else:
            raise ValueError(f"unknown query type {q!r}")
        for k, v in (req.get("options") or {}).items():
            r = r.option(k, v)
        return r

    def sql(self, req):
        rows = [row.asDict(recursive=True) for row in self.spark.sql(req["sql"]).collect()]
        return {"rows": [canonical(x) for x in rows]}

    # --- writes --------------------------------------------------------

    def write(self, req):
        if req.get("parquet"):
            with self.conf({"spark.sql.parquet.enableVectorizedReader": "false"}):
                df = self.spark.read.parquet(req["parquet"]).cache()
                df.count()
        else:
            df = self.spark.createDataFrame(req.get("rows") or [], schema=req["schema"])
        w = df.write.format("hudi")
        for k, v in (req.get("options") or {}).items():
            w = w.option(k, str(v))
        try:
            w.mode(req.get("mode", "append")).save(req["path"])
        finally:
            if req.get("parquet"):
                df.unpersist()
        return {}

    # --- Hudi's own validation -----------------------------------------

    def meta_client(self, path):
        jvm = self.jvm
        conf = jvm.org.apache.hudi.hadoop.fs.HadoopFSUtils.getStorageConfWithCopy(self.hconf)
        return (
            jvm.org.apache.hudi.common.table.HoodieTableMetaClient.builder()
            .setConf(conf)
            .setBasePath(path)
            .setLoadActiveTimelineOnLoad(True)
            .build()
        )

    def validate(self, req):
        jvm = self.jvm
        path = req["path"]
        out = {"problems": []}
        mc = self.meta_client(path)
        cfg = mc.getTableConfig()
        props = cfg.getProps()
        out["properties"] = {k: props.getProperty(k) for k in props.stringPropertyNames()}
        out["checksum_valid"] = bool(jvm.org.apache.hudi.common.table.HoodieTableConfig.validateChecksum(props))
        if not out["checksum_valid"]:
            out["problems"].append("hoodie.table.checksum does not validate")
        out["table_type"] = cfg.getTableType().name()
        out["table_version"] = cfg.getTableVersion().versionCode()
        out["layout_version"] = mc.getTimelineLayoutVersion().getVersion()
        out["payload_class"] = cfg.getPayloadClass()
        out["key_generator"] = cfg.getKeyGeneratorClassName()
        out["timeline_timezone"] = cfg.getTimelineTimezone().name()

        tl = mc.getActiveTimeline()
        utils = jvm.org.apache.hudi.common.table.timeline.TimelineMetadataUtils
        instants = []
        for inst in jlist(tl.getInstants()):
            ts, action, state = inst.getTimestamp(), inst.getAction(), inst.getState().name()
            entry = {"timestamp": ts, "action": action, "state": state}
            try:
                if inst.isCompleted():
                    details = tl.getInstantDetails(inst).get()
                    if action in ("commit", "deltacommit", "replacecommit"):
                        md = jvm.org.apache.hudi.common.model.HoodieCommitMetadata.fromBytes(
                            details, jvm.py4j.reflection.ReflectionUtil.classForName(
                                "org.apache.hudi.common.model.HoodieCommitMetadata"))
                        entry["operation"] = md.getOperationType().name()
                        entry["files"] = sorted(jlist(md.getFileIdAndRelativePaths().values()))
                        entry["has_schema"] = bool(md.getMetadata("schema"))
                    elif action == "rollback":
                        md = utils.deserializeHoodieRollbackMetadata(details)
                        entry["commits_rollback"] = jlist(md.getCommitsRollback())
                        entry["total_files_deleted"] = md.getTotalFilesDeleted()
                    elif action == "clean":
                        md = utils.deserializeHoodieCleanMetadata(details)
                        entry["total_files_deleted"] = md.getTotalFilesDeleted()
                elif action == "rollback" and state == "REQUESTED":
                    details = tl.getInstantDetails(inst).get()
                    plan = utils.deserializeAvroMetadata(
                        details, jvm.py4j.reflection.ReflectionUtil.classForName(
                            "org.apache.hudi.avro.model.HoodieRollbackPlan"))
                    entry["rollback_of"] = plan.getInstantToRollback().getCommitTime()
            except Exception as e:  # noqa: BLE001
                entry["error"] = java_chain(e)
                out["problems"].append(f"{ts}.{action} ({state}): {entry['error']}")
            instants.append(entry)
        out["instants"] = instants

        completed_writes = mc.getCommitsTimeline().filterCompletedInstants()
        if not completed_writes.empty():
            try:
                resolver = jvm.org.apache.hudi.common.table.TableSchemaResolver(mc)
                out["schema"] = json.loads(resolver.getTableAvroSchema(False).toString())
            except Exception as e:  # noqa: BLE001
                out["problems"].append("TableSchemaResolver: " + java_chain(e))

        # The latest base files, as Java's file-system view (non-MDT listing)
        # sees them.
        try:
            engine = jvm.org.apache.hudi.common.engine.HoodieLocalEngineContext(mc.getStorageConf())
            parts = jvm.org.apache.hudi.common.fs.FSUtils.getAllPartitionPaths(engine, mc.getStorage(), path, False, False)
            view = jvm.org.apache.hudi.common.table.view.HoodieTableFileSystemView(mc, completed_writes)
            latest = {}
            for p in jlist(parts):
                files = view.getLatestBaseFiles(p).collect(jvm.java.util.stream.Collectors.toList())
                latest[p] = sorted(f.getFileName() for f in jlist(files))
            out["latest_base_files"] = latest
            view.close()
        except Exception as e:  # noqa: BLE001
            out["problems"].append("HoodieTableFileSystemView: " + java_chain(e))
        return out

    # --- the metadata table --------------------------------------------

    def mdt_validate(self, req):
        """The `files` partition of the table's metadata table against a
        listing of storage, by Hudi's own code (interop/metadata_write_test.go):

        procedure: Spark SQL `call validate_metadata_table_files` (Hudi's
            ValidateMetadataTableFilesProcedure) on the table registered in
            the session catalog (CREATE TABLE ... USING hudi LOCATION); the
            rows it returns are mismatches. In Hudi 0.15 its "storage" side
            reads the metadata table as well, so it finds none: see
            file_mismatches.
        partitions: getAllPartitionPaths of HoodieBackedTableMetadata (the
            metadata table) and of FileSystemBackedTableMetadata (a storage
            listing).
        file_mismatches: what the procedure means to compare: per partition,
            the files getAllFilesInPartition returns from the metadata table
            and from the storage listing, by name and size; each difference.
        slices: the latest file slices of every partition (file id, base
            instant, base file, log files) of HoodieTableFileSystemView built
            from the metadata table and from a storage listing, as
            HoodieMetadataTableValidator's latest-file-slice check compares
            them; differences listed in slice_mismatches.
        """
        import hashlib

        jvm = self.jvm
        path = req["path"]
        out = {}
        name = "mdt_check_" + hashlib.sha1(path.encode()).hexdigest()[:16]
        loc = path.replace("\\", "\\\\").replace("'", "\\'")
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING hudi LOCATION '{loc}'")
        rows = self.spark.sql(f"call validate_metadata_table_files(table => '{name}')").collect()
        out["procedure"] = [canonical(r.asDict(recursive=True)) for r in rows]

        mc = self.meta_client(path)
        engine = jvm.org.apache.hudi.common.engine.HoodieLocalEngineContext(mc.getStorageConf())
        cfg = jvm.org.apache.hudi.common.config.HoodieMetadataConfig
        on = cfg.newBuilder().enable(True).build()
        off = cfg.newBuilder().enable(False).build()
        meta = jvm.org.apache.hudi.metadata.HoodieTableMetadata
        md = meta.create(engine, mc.getStorage(), on, path)
        try:
            if not md.enabled():
                raise RuntimeError(f"{path}: Hudi finds no metadata table")
            return self._mdt_compare(out, path, mc, engine, md, on, off)
        finally:
            md.close()

    def _mdt_compare(self, out, path, mc, engine, md, on, off):
        """mdt_validate's comparisons (partitions, files, file slices)."""
        jvm = self.jvm
        meta = jvm.org.apache.hudi.metadata.HoodieTableMetadata
        # Not meta.create(..., off, ...): in 0.15 that reads the metadata
        # table too (BaseTableMetadata takes isMetadataTableInitialized from
        # hoodie.properties, not from the config), which is why the
        # procedure above compares the metadata table with itself.
        fsmd = meta.createFSBackedTableMetadata(engine, mc.getStorage(), off, path)
        mparts = sorted(jlist(md.getAllPartitionPaths()))
        fparts = sorted(jlist(fsmd.getAllPartitionPaths()))
        out["partitions"] = {"metadata": mparts, "storage": fparts}

        files = []
        for p in sorted(set(mparts) | set(fparts)):
            sp = jvm.org.apache.hudi.storage.StoragePath(path, p) if p else jvm.org.apache.hudi.storage.StoragePath(path)
            a = {f.getPath().getName(): f.getLength() for f in jlist(md.getAllFilesInPartition(sp))}
            b = {f.getPath().getName(): f.getLength() for f in jlist(fsmd.getAllFilesInPartition(sp))}
            for n in sorted(set(a) | set(b)):
                if a.get(n) != b.get(n):
                    files.append({"partition": p, "file_name": n, "metadata_size": a.get(n), "storage_size": b.get(n)})
        out["file_mismatches"] = files

        def slices(metadata_config):
            views = jvm.org.apache.hudi.common.table.view.FileSystemViewManager
            view = views.createInMemoryFileSystemView(engine, mc, metadata_config)
            try:
                res = {}
                for p in sorted(set(mparts) | set(fparts)):
                    got = []
                    for s in jlist(view.getLatestFileSlices(p).collect(jvm.java.util.stream.Collectors.toList())):
                        base = s.getBaseFile()
                        logs = jlist(s.getLogFiles().collect(jvm.java.util.stream.Collectors.toList()))
                        got.append({
                            "file_id": s.getFileId(),
                            "base_instant": s.getBaseInstantTime(),
                            "base_file": base.get().getFileName() if base.isPresent() else None,
                            "base_size": base.get().getFileSize() if base.isPresent() else None,
                            "log_files": sorted(f.getFileName() for f in logs),
                        })
                    res[p] = sorted(got, key=lambda x: x["file_id"])
                return res
            finally:
                view.close()

        with_md, with_fs = slices(on), slices(off)
        mism = []
        for p in sorted(set(with_md) | set(with_fs)):
            a = {s["file_id"]: s for s in with_md.get(p, [])}
            b = {s["file_id"]: s for s in with_fs.get(p, [])}
            for fid in sorted(set(a) | set(b)):
                if a.get(fid) != b.get(fid):
                    mism.append({"partition": p, "file_id": fid, "metadata": a.get(fid), "storage": b.get(fid)})
        out["slices"] = with_md
        out["slice_mismatches"] = mism
        fsmd.close()
        return out

    def ping(self, _req):
        return {"spark": self.spark.version, "hudi": spark_session.HUDI_VERSION}


def jlist(c):
    """A Java collection as a Python list. (py4j's iterator protocol fails on
    Avro's GenericData.Array: its next() runs past the end.)"""
    return list(c.toArray()) if hasattr(c, "toArray") else list(c)


def canonical(row):
    """JSON-ready values: nested rows become dicts, the rest what json can
    print (dates, decimals and bytes through str, as hudirs_read.py does)."""
    return json.loads(json.dumps(row, sort_keys=True, default=str))


def main():
    # Keep the protocol channel to ourselves: the JVM and any library print
    # goes to stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    t0 = time.time()
    spark = spark_session.session(app="hoodie-interop")
    h = Harness(spark)
    proto.write(json.dumps({"ok": True, "ready": True, "spark": spark.version, "hudi": spark_session.HUDI_VERSION,
                            "start_seconds": round(time.time() - t0, 2)}) + "\n")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        t = time.time()
        try:
            req = json.loads(line)
            fn = getattr(h, req["op"], None)
            if fn is None or req["op"].startswith("_"):
                raise ValueError(f"unknown op {req['op']!r}")
            resp = fn(req)
            resp["ok"] = True
        except Exception as e:  # noqa: BLE001
            resp = {"ok": False, "error": java_chain(e), "trace": traceback.format_exc()[-8000:]}
        resp["seconds"] = round(time.time() - t, 3)
        proto.write(json.dumps(resp, default=str) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
