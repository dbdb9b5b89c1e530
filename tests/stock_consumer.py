"""Stock Confluent clients reading tickflow's topic, as a downstream Python team would:
confluent-kafka's DeserializingConsumer with AvroDeserializer or ProtobufDeserializer over a
SchemaRegistryClient. Prints one JSON line per record, with the values in the canonical JSON
form of `tickflow normalize` (decimals as normalized strings, times as integers, enums by
symbol), so the Rust test can compare them with its own decoding.

usage: stock_consumer.py BOOTSTRAP REGISTRY TOPIC avro|proto COUNT [--reader-schema AVSC]
       [--descriptor-set FILE] [--user-info USER:PASSWORD]
"""
import argparse
import decimal
import json
import sys
import time

from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import StringDeserializer

# The canonical JSON form of one value (shared with the independent Avro reader beside this).
from independent_avro_decode import plain

PREFIXES = ("EXCHANGE_", "EVENT_KIND_", "STREAM_TYPE_", "MARKET_STATE_", "TRADE_SIDE_")
INTEGERS = ("event_ts_us", "trade_ts_us", "sequence", "received_ts_us", "delisting_date")


def from_proto(message):
    from google.protobuf import json_format

    d = json_format.MessageToDict(message, preserving_proto_field_name=True)
    out = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        value = d.get(name)
        if value is None:
            present = field.has_presence and message.HasField(name)
            value = getattr(message, name) if present or not field.has_presence else None
            if field.enum_type is not None and value is not None:
                value = field.enum_type.values_by_number[value].name
        if isinstance(value, str):
            for p in PREFIXES:
                if value.startswith(p):
                    value = value[len(p):]
        if name in INTEGERS and value is not None:
            value = int(value)
        if isinstance(value, str) and name not in ("instrument", "native_symbol") and value[:1] in "-0123456789":
            value = plain(decimal.Decimal(value))
        out[name] = value
    return out


def message_class(path):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    with open(path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tickflow.v1.Tick"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("registry")
    ap.add_argument("topic")
    ap.add_argument("format", choices=["avro", "proto"])
    ap.add_argument("count", type=int)
    ap.add_argument("--reader-schema")
    ap.add_argument("--descriptor-set")
    ap.add_argument("--user-info")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    conf = {"url": a.registry}
    if a.user_info:
        conf["basic.auth.user.info"] = a.user_info
    registry = SchemaRegistryClient(conf)
    if a.format == "avro":
        reader = open(a.reader_schema).read() if a.reader_schema else None
        value = AvroDeserializer(registry, reader)
    else:
        value = ProtobufDeserializer(message_class(a.descriptor_set), {"use.deprecated.format": False}, registry)
    consumer = DeserializingConsumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "stock-python-%d" % time.time_ns(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "key.deserializer": StringDeserializer("utf_8"),
        "value.deserializer": value,
    })
    consumer.subscribe([a.topic])
    seen = 0
    deadline = time.time() + a.timeout
    try:
        while seen < a.count and time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise SystemExit("consumer error: %s" % msg.error())
            v = msg.value()
            record = from_proto(v) if a.format == "proto" else {k: plain(x) for k, x in v.items()}
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(), "key": msg.key(), "value": record}, sort_keys=True))
            seen += 1
    finally:
        consumer.close()
    if seen < a.count:
        raise SystemExit("read %d of %d records within %ss" % (seen, a.count, a.timeout))


if __name__ == "__main__":
    sys.exit(main())
