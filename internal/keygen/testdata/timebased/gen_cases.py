"""Writes cases.tsv: timestamp-based key generator configurations crossed
with values (see README.md)."""
import itertools
import sys

SEP = "\x1f"
P = "hoodie.keygen.timebased."


def props(**kw):
    return SEP.join(f"{P}{k.replace('_', '.')}={v}" for k, v in kw.items())


outputs = ["yyyy-MM-dd", "yyyy/MM/dd", "yyyyMMddHH", "yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "yy-M-d h:mm a",
           "yyyy-MM-dd HH:mm:ss.S", "EEE MMM d yyyy", "EEEE MMMM", "D w e x", "k K Z"]
zones = [None, "UTC", "Asia/Tokyo", "America/Los_Angeles", "GMT+05:30", "Europe/Berlin"]
lines = []
numeric = {
    "UNIX_TIMESTAMP": [0, 1, -1, 1700000000, 1710054000, 1699999999, 951782400, 4102444800, -86400, 253402300799],
    "EPOCHMILLISECONDS": [0, 1, -1, 1700000000123, 1710054000999, 1730595600000, 951782400000, -86399999, 253402300799999],
    "SCALAR_MICROS": [0, 1, -1, -999, -1001, 1700000000123456, 1710054000999999],
}
for typ, vals in numeric.items():
    for out, z in itertools.product(outputs, zones):
        kw = {"timestamp_type": typ, "output_dateformat": out}
        if typ == "SCALAR_MICROS":
            kw = {"timestamp_type": "SCALAR", "timestamp_scalar_time_unit": "MICROSECONDS", "output_dateformat": out}
        if z:
            kw["timezone"] = z
        for v in vals + ["null"]:
            lines.append(f"{props(**kw)}\t{'null' if v == 'null' else 'long'}\t{'' if v == 'null' else v}")
for unit, vals in {"DAYS": [0, 1, -1, 19800, 2932896], "HOURS": [0, -1, 472222], "NANOSECONDS": [1700000000123456789, -1], "SECONDS": [1700000000], "minutes": [28333333]}.items():
    for out, z in itertools.product(outputs[:4], zones):
        kw = {"timestamp_type": "SCALAR", "timestamp_scalar_time_unit": unit, "output_dateformat": out}
        if z:
            kw["timezone"] = z
        for v in vals + ["null"]:
            lines.append(f"{props(**kw)}\t{'null' if v == 'null' else 'long'}\t{'' if v == 'null' else v}")
for v in [1.7e12, -1.5, 1e300, 0.0]:
    lines.append(f"{props(timestamp_type='EPOCHMILLISECONDS', output_dateformat='yyyy-MM-dd HH:mm:ss.SSS')}\tdouble\t{v}")
lines.append(f"{props(timestamp_type='EPOCHMICROSECONDS', output_dateformat='yyyy-MM-dd')}\tlong\t1")
lines.append(f"{props(timestamp_type='epochmilliseconds', output_dateformat='yyyy-MM-dd')}\tlong\t1")
inputs = {
    "yyyy-MM-dd'T'HH:mm:ss.SSSZ": ["2024-01-31T23:30:00.000Z", "2024-01-31T23:30:00.5+0900", "2024-01-31T23:30:00.123-08:00",
                                   "2024-01-31t23:30:00.000Z", "2024-02-30T00:00:00.000Z", "2024-13-01T00:00:00.000Z", "", "x",
                                   "2024-1-3T4:05:06.7Z", "2024-03-10T02:30:00.000Z"],
    "yyyy-MM-dd HH:mm:ss": ["2024-01-31 23:30:00", "2024-03-10 02:30:00", "2024-11-03 01:30:00", "2024-03-31 02:30:00",
                            "2024-10-27 02:30:00", "2024-01-31 24:00:00", "2024-01-31 23:30:00 ", "99999-01-01 00:00:00"],
    "yyyy-MM-dd HH:mm:ss,yyyy-MM-dd,yyyyMMdd": ["2024-01-31 23:30:00", "2024-01-31", "20240131", "2024013", "2024-01-31T00:00"],
    "yyyyMMddHHmm|yyyy/MM/dd": ["202401312330", "2024/01/31", "2024/1/31", "20240131233"],
    "dd/MMM/yyyy:HH:mm:ss ZZ": ["31/Jan/2024:23:30:00 +09:00", "31/january/2024:23:30:00 -0130", "31/Foo/2024:23:30:00 Z"],
    "MM-dd hh:mm a": ["01-31 11:30 PM", "01-31 12:00 am", "01-31 12:00 PM", "01-31 13:00 PM"],
    "yyyy-MM-dd kk:mm": ["2024-01-31 24:00", "2024-01-31 00:00"],
    "yyyy-MM-dd'T'HH:mm:ss.SSSSSS": ["2024-01-31T23:30:00.123456", "2024-01-31T23:30:00.1"],
}
for fmt, vals in inputs.items():
    delim = "|" if "|" in fmt else None
    for out, z in itertools.product(["yyyy-MM-dd", "yyyy/MM/dd/HH", "yyyy-MM-dd HH:mm:ss.SSS ZZ"], zones + ["in:Asia/Tokyo", "out:America/New_York", "in:UTC,out:Asia/Kolkata"]):
        for typ in ["DATE_STRING", "MIXED"]:
            if typ == "MIXED" and z not in (None, "UTC"):
                continue
            kw = {"timestamp_type": typ, "input_dateformat": fmt, "output_dateformat": out}
            if delim:
                kw["input_dateformat_list_delimiter_regex"] = "\\|"
            if z and z.startswith(("in:", "out:")):
                for part in z.split(","):
                    side, name = part.split(":", 1)
                    kw[f"{'input' if side == 'in' else 'output'}_timezone"] = name
            elif z:
                kw["timezone"] = z
            for v in vals + [None]:
                lines.append(f"{props(**kw)}\t{'null' if v is None else 'string'}\t{v or ''}")
with open(sys.argv[1] if len(sys.argv) > 1 else "cases.tsv", "w") as f:
    f.write("\n".join(lines) + "\n")
print(len(lines))
