"""The part of a run's results.csv or summary.csv that a rerun must reproduce byte for byte: every
column but the wall times ("wall_s" or "<name>.wall_s", seconds on the clock). The Python tests'
twin of tests/support/reproducible_csv.hpp."""


def is_wall_time_column(name):
    return name == "wall_s" or name.endswith(".wall_s")


def without_wall_times(data):
    """`data` (bytes of a CSV file, RFC 4180 quoting) without its wall-time columns; the other fields
    are kept as written, quotes included."""
    records, fields, field, quoted = [], [], bytearray(), False
    for byte in data:
        c = bytes([byte])
        if c == b'"':
            quoted = not quoted  # an escaped "" toggles twice
        if not quoted and c in (b",", b"\n"):
            fields.append(bytes(field))
            field = bytearray()
            if c == b"\n":
                records.append(fields)
                fields = []
            continue
        field += c
    if field or fields:
        fields.append(bytes(field))
        records.append(fields)
    if not records:
        return data
    keep = [not is_wall_time_column(name.decode()) for name in records[0]]
    out = b"".join(b",".join(f for i, f in enumerate(r) if i >= len(keep) or keep[i]) + b"\n" for r in records)
    return out if data.endswith(b"\n") else out[:-1]
