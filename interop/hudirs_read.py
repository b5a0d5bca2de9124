"""Reads a Hudi table's snapshot with hudi-rs (the `hudi` package) and prints
one JSON object per row, sorted by partition path and record key, with every
column (meta columns included). Used by the interop tests."""
import json
import sys

from hudi import HudiTableBuilder
import pyarrow as pa


def main(base: str) -> None:
    table = HudiTableBuilder.from_base_uri(base).build()
    batches = table.read()
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    rows.sort(key=lambda r: tuple(str(r.get(k) or "") for k in ("_hoodie_partition_path", "_hoodie_record_key", "_hoodie_file_name", "_hoodie_commit_seqno")))
    for r in rows:
        print(json.dumps(r, sort_keys=True, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
