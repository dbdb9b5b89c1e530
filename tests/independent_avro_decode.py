"""Independent reader: decodes tickflow's Confluent-framed Avro (hex lines on stdin) with
fastavro and prints each record as canonical JSON (decimals as normalized strings, times as
epoch microseconds), so tests can compare it with `tickflow normalize --output json`."""
import datetime
import decimal
import json
import sys

import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    if isinstance(value, decimal.Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(value, datetime.date):
        return (value - EPOCH.date()).days
    return value


def main():
    with open(sys.argv[1]) as f:
        schema = fastavro.parse_schema(json.load(f))
    for line in sys.stdin:
        raw = bytes.fromhex(line.strip())
        assert raw[0] == 0, "magic byte"
        schema_id = int.from_bytes(raw[1:5], "big")
        import io

        record = fastavro.schemaless_reader(io.BytesIO(raw[5:]), schema, None)
        out = {k: plain(v) for k, v in record.items()}
        out["_schema_id"] = schema_id
        print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
