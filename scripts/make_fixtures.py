"""Writes hoodie's Spark-written fixture tables from their SQL recipes.

Usage (scripts/fixtures.sh runs it; it is not meant to be run by hand):

    python scripts/make_fixtures.py SQL_DIR OUT_DIR WORK_DIR

SQL_DIR holds the recipes, <group>/<cow|mor>/[<avro|parquet>/]<name>.sql
(testdata/hudi-rs: the Spark SQL that wrote Apache Hudi's hudi-rs sample
tables). In one Spark session (Spark 3.5 + the Hudi bundle of
interop/spark_session.py, local mode, UTC) every recipe runs statement by
statement in the default database (the tables' hoodie.database.name, as in
the originals), each table at WORK_DIR/<n>/<table>. Each table directory is
then zipped to OUT_DIR/<same relative path>.zip with the table's directory as
the zip's one top-level directory (the shape of the hudi-rs zips), the .sql
is copied beside it, and the table is dropped from the catalog (its files
stay), so recipes may reuse table names.

Two adaptations keep the recipes runnable unchanged:

* Each CREATE TABLE gets a `LOCATION` under WORK_DIR (a recipe's own
  clause, like the rollback recipe's /opt/data/..., is pointed there).
* `call rollback_to_instant(..., instant_time => '<literal>')` names the
  instant of the recipe's original run; the literal is replaced by the
  table's latest completed instant at that point (the commit the preceding
  statement wrote), which is what the recipe rolled back.

Hadoop's local-filesystem checksum files (*.crc) are left out of the zips:
they are not part of the table and the hudi-rs zips have none.

Progress goes to stderr; nothing is printed on stdout.
"""
import os
import re
import shutil
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

COMPLETED = re.compile(r"^(\d{17})\.(commit|deltacommit|replacecommit)$")
CREATE = re.compile(r"^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?`?([\w]+)`?", re.I)
LOCATION = re.compile(r"\blocation\s+'[^']*'", re.I)
USING = re.compile(r"\busing\s+hudi\b", re.I)
ROLLBACK = re.compile(r"^\s*call\s+rollback_to_instant\s*\(", re.I)
ROLLBACK_TABLE = re.compile(r"\btable\s*=>\s*'([^']*)'", re.I)
ROLLBACK_INSTANT = re.compile(r"(\binstant_time\s*=>\s*)'[^']*'", re.I)


def log(msg: str) -> None:
    print(f"make_fixtures: {msg}", file=sys.stderr, flush=True)


def statements(sql: str) -> list[str]:
    """Splits a SQL script on ';' outside quotes, dropping -- and /* */
    comments."""
    out, cur, i, n = [], [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" else 1
            cur.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment")
            cur.append(" ")
            i = j + 2
        elif c == ";":
            out.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(c)
            i += 1
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


def latest_completed(table_dir: str) -> str:
    hoodie = os.path.join(table_dir, ".hoodie")
    instants = sorted(m.group(1) for m in map(COMPLETED.match, os.listdir(hoodie)) if m)
    if not instants:
        raise RuntimeError(f"{table_dir}: no completed instant to roll back")
    return instants[-1]


def table_location(spark, db: str, table: str) -> str:
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED `{db}`.`{table}`").collect():
        if row[0] == "Location":
            loc = row[1]
            return loc[len("file:") :] if loc.startswith("file:") else loc
    raise RuntimeError(f"{db}.{table}: no Location in DESCRIBE TABLE EXTENDED")


def zip_table(table_dir: str, dest: str) -> None:
    top = os.path.basename(table_dir.rstrip("/"))
    tmp = dest + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(table_dir):
            dirs.sort()
            rel = os.path.relpath(root, table_dir)
            arc = top if rel == "." else f"{top}/{rel}"
            zf.write(root, arc + "/")
            for f in sorted(files):
                if f.endswith(".crc"):
                    continue
                zf.write(os.path.join(root, f), f"{arc}/{f}")
    os.replace(tmp, dest)


def run_recipe(spark, sql_path: str, rel: str, table_root: str) -> list[tuple[str, str]]:
    """Runs one recipe; returns its (table, directory)s."""
    tables: list[str] = []
    with open(sql_path, encoding="utf-8") as f:
        stmts = statements(f.read())
    for stmt in stmts:
        m = CREATE.match(stmt)
        if m:
            tables.append(m.group(1))
            loc = f"LOCATION '{os.path.join(table_root, m.group(1))}'"
            if LOCATION.search(stmt):
                stmt = LOCATION.sub(lambda _: loc, stmt, count=1)
            else:
                stmt, n = USING.subn(lambda u: f"{u.group(0)} {loc}", stmt, count=1)
                if n != 1:
                    raise RuntimeError(f"{rel}: CREATE TABLE {m.group(1)} is not USING HUDI")
        if ROLLBACK.match(stmt):
            t = ROLLBACK_TABLE.search(stmt)
            if not t:
                raise RuntimeError(f"{rel}: rollback_to_instant without table => '...'")
            instant = latest_completed(table_location(spark, "default", t.group(1)))
            stmt = ROLLBACK_INSTANT.sub(lambda mm: f"{mm.group(1)}'{instant}'", stmt)
            log(f"{rel}: rolling back {t.group(1)}'s latest commit {instant}")
        head = " ".join(stmt.split())[:70]
        t0 = time.time()
        spark.sql(stmt).collect()
        log(f"{rel}: {head}... ({time.time() - t0:.1f}s)")
    if not tables:
        raise RuntimeError(f"{rel}: no CREATE TABLE")
    return [(t, table_location(spark, "default", t)) for t in tables]


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    sql_dir, out, work = (os.path.abspath(a) for a in argv[1:])
    recipes = []
    for root, _, files in os.walk(sql_dir):
        for f in files:
            if f.endswith(".sql"):
                recipes.append(os.path.relpath(os.path.join(root, f), sql_dir))
    recipes.sort()
    if not recipes:
        log(f"no .sql recipes under {sql_dir}")
        return 1
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)

    from spark_session import session

    t0 = time.time()
    spark = session(app="hoodie-fixtures", driver_memory="2g")
    log(f"Spark {spark.version} up in {time.time() - t0:.1f}s")
    for i, rel in enumerate(recipes):
        spark.sql("USE default")
        tables = run_recipe(spark, os.path.join(sql_dir, rel), rel, os.path.join(work, f"{i:02d}"))
        if len(tables) != 1:
            raise RuntimeError(f"{rel}: {len(tables)} tables; a recipe must make exactly one")
        name, table_dir = tables[0]
        if name != os.path.basename(rel)[: -len(".sql")]:
            raise RuntimeError(f"{rel}: the table is named {name}, not after the file")
        if not os.path.isfile(os.path.join(table_dir, ".hoodie", "hoodie.properties")):
            raise RuntimeError(f"{rel}: {table_dir} has no .hoodie/hoodie.properties")
        base = os.path.join(out, rel[: -len(".sql")])
        os.makedirs(os.path.dirname(base), exist_ok=True)
        zip_table(table_dir, base + ".zip")
        shutil.copyfile(os.path.join(sql_dir, rel), base + ".sql")
        for t, _ in tables:
            spark.sql(f"DROP TABLE `default`.`{t}`")  # external: the files stay
    spark.stop()
    log(f"{len(recipes)} tables in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
