"""Kafka-protocol liveness probe: sends ApiVersions (v0) and checks the broker answers it
without error. Usage: python3 tests/kafka_probe.py HOST:PORT"""
import socket
import struct
import sys

host, port = sys.argv[1].rsplit(":", 1)
client_id = b"tickflow-probe"
# Request header v1: api_key=18 (ApiVersions), api_version=0, correlation_id, client_id.
body = struct.pack(">hhih", 18, 0, 42, len(client_id)) + client_id
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    reply = b""
    while len(reply) < size:
        chunk = s.recv(size - len(reply))
        if not chunk:
            raise SystemExit("broker closed the connection")
        reply += chunk
correlation_id, error_code, n_apis = struct.unpack(">ihi", reply[:10])
assert correlation_id == 42, correlation_id
assert error_code == 0, f"ApiVersions error {error_code}"
assert n_apis > 10, f"only {n_apis} apis"
print(f"kafka ok: {n_apis} apis")
