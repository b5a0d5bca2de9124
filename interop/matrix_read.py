"""Foreign readers of the reader matrix (interop/matrix_test.go) that run in
Python: each reads a table (or its Parquet base files) and writes what it read,
unchanged, as an Arrow IPC file. The Go test canonicalises every reader's Arrow
output with one function, so no reader's values pass through per-reader Python
conversions (naive local datetimes, float formatting, Decimal printing).

    matrix_read.py pyarrow OUT [--columns C,..] FILE...   pyarrow.parquet reads each Parquet file
    matrix_read.py hudirs OUT [--columns C,..] BASE [ro]  hudi-rs reads the table's snapshot (ro:
                                                          read-optimized, base files only)
    matrix_read.py toparquet OUT IN                       the Arrow IPC file IN as a plain Parquet
                                                          file (v1 data pages, PLAIN encoding): the
                                                          input of the Spark-written control tables

--columns reads only those columns (the test narrows down a failing read).
"""
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def write(out: str, tables: list) -> int:
    tables = [t for t in tables if t is not None]
    if not tables:
        table = pa.table({})
    elif len(tables) == 1:
        table = tables[0]
    else:
        table = pa.concat_tables(tables, promote_options="default")
    with pa.OSFile(out, "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)
    return table.num_rows


def read_pyarrow(files: list, columns) -> list:
    # ParquetFile(...).read(): the file as it is (no dataset layer, no
    # partition discovery from the directory names).
    return [pq.ParquetFile(f).read(columns=columns) for f in files]


def read_hudirs(base: str, ro: bool, columns) -> list:
    from hudi import HudiReadOptions, HudiTableBuilder

    table = HudiTableBuilder.from_base_uri(base).build()
    opts = HudiReadOptions()
    if columns:
        opts = opts.with_projection(columns)
    if ro:
        opts = opts.with_hudi_option("hoodie.read.use.read_optimized.mode", "true")
    batches = table.read(opts)
    return [pa.Table.from_batches(batches)] if batches else []


def main(argv: list) -> None:
    mode, out, args = argv[1], argv[2], argv[3:]
    columns = None
    if args[:1] == ["--columns"]:
        columns, args = args[1].split(","), args[2:]
    if mode == "pyarrow":
        n = write(out, read_pyarrow(args, columns))
    elif mode == "hudirs":
        n = write(out, read_hudirs(args[0], len(args) > 1 and args[1] == "ro", columns))
    elif mode == "toparquet":
        with pa.memory_map(args[0]) as src:
            table = pa.ipc.open_file(src).read_all()
        pq.write_table(table, out, use_dictionary=False, data_page_version="1.0", compression="snappy")
        n = table.num_rows
    else:
        raise SystemExit(f"matrix_read.py: unknown mode {mode!r}")
    print(n)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as e:  # noqa: BLE001 - the reader's own error, for the test's report
        sys.stderr.write(f"{type(e).__name__}: {e}\n")
        sys.exit(1)
