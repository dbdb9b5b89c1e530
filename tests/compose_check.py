#!/usr/bin/env python3
"""Checks docker/compose.yaml as docker-compose resolves it (`docker-compose -f FILE config`):

- kafka: every directory in KAFKA_LOG_DIRS (and KAFKA_METADATA_LOG_DIR, if set) lies inside a
  mounted named volume, so re-creating the container keeps the topics (the registry's _schemas
  included). Unset, Kafka writes to /tmp/kafka-logs in the container's writable layer.
- gather and cache: stop_grace_period exceeds their stopping deadline by at least MARGIN_S, so
  Docker's SIGKILL never cuts a drain short. The deadline is the service's environment override
  (TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS, TICKFLOW_CACHE__SHUTDOWN_TIMEOUT_MS) if set, else
  tickflow.toml's (the image bakes it in as /etc/tickflow/tickflow.toml), else the built-in
  default of 30000 ms (`DEFAULT_SHUTDOWN_TIMEOUT_MS` in src/config/app/gather.rs and cache.rs).

Usage (from the repository root; scripts/test.sh runs it after validating the file):
    python3 tests/compose_check.py [COMPOSE_FILE] [--toml SHIPPED_TOML]
Exit 0 when every check passes, 1 otherwise; prints each check.
"""

import argparse
import os
import re
import subprocess
import sys
import tomllib

import yaml

DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000  # src/config/app/{gather,cache}.rs, DEFAULT_SHUTDOWN_TIMEOUT_MS
MARGIN_S = 5.0  # time after the deadline to print the summary and exit
DOCKER_DEFAULT_GRACE_S = 10.0  # what Docker waits for when stop_grace_period is unset

# tickflow service -> (tickflow.toml section, environment override of its deadline)
DEADLINES = {
    "gather": ("gather", "TICKFLOW_GATHER__SHUTDOWN_TIMEOUT_MS"),
    "cache": ("cache", "TICKFLOW_CACHE__SHUTDOWN_TIMEOUT_MS"),
}

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def duration_s(text):
    """A compose duration (Go syntax: 45s, 1m30s, 1500ms) in seconds."""
    text = str(text).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def mounts(service, named_volumes):
    """(source, target, is_named_volume) of every mount of a service."""
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume.get("target")
            named = volume.get("type", "volume") == "volume" and source in named_volumes
        else:
            fields = volume.split(":")
            if len(fields) == 1:  # anonymous volume
                source, target, named = None, fields[0], False
            else:
                source, target = fields[0], fields[1]
                named = source in named_volumes
        out.append((source, target, named))
    return out


def inside(path, directory):
    path, directory = os.path.normpath(path), os.path.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compose_file", nargs="?", default="docker/compose.yaml")
    parser.add_argument("--toml", default="tickflow.toml", help="the tickflow.toml the image bakes in")
    args = parser.parse_args()

    rendered = subprocess.run(
        ["docker-compose", "-f", args.compose_file, "config"],
        check=True, capture_output=True, text=True,
    ).stdout
    config = yaml.safe_load(rendered)
    services = config.get("services") or {}
    named_volumes = set((config.get("volumes") or {}).keys())
    with open(args.toml, "rb") as f:
        toml = tomllib.load(f)

    failures = []

    def check(ok, what):
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    print(f"compose_check: {args.compose_file} (as `docker-compose config` renders it), deadlines from {args.toml}")

    # Kafka's data.
    kafka = services.get("kafka")
    check(kafka is not None, "service kafka exists")
    if kafka is not None:
        env = environment(kafka)
        volume_mounts = [(s, t) for s, t, named in mounts(kafka, named_volumes) if named]
        described = ", ".join(f"{s}:{t}" for s, t in volume_mounts) or "none"
        log_dirs = env.get("KAFKA_LOG_DIRS")
        check(bool(log_dirs), f"kafka sets KAFKA_LOG_DIRS (is {log_dirs!r}; unset, Kafka writes to /tmp/kafka-logs in the container)")
        dirs = [("KAFKA_LOG_DIRS", d.strip()) for d in str(log_dirs or "").split(",") if d.strip()]
        if env.get("KAFKA_METADATA_LOG_DIR"):
            dirs.append(("KAFKA_METADATA_LOG_DIR", str(env["KAFKA_METADATA_LOG_DIR"]).strip()))
        for name, directory in dirs:
            holder = next((s for s, t in volume_mounts if inside(directory, t)), None)
            check(holder is not None,
                  f"kafka {name} entry {directory} lies inside a mounted named volume "
                  f"({'volume ' + holder if holder else 'named volume mounts: ' + described})")

    # Stopping: Docker's grace period against tickflow's deadline.
    for name, (section, override) in DEADLINES.items():
        service = services.get(name)
        check(service is not None, f"service {name} exists")
        if service is None:
            continue
        env = environment(service)
        if env.get(override) not in (None, ""):
            deadline_s, source = int(env[override]) / 1000, f"environment {override}"
        elif "shutdown_timeout_ms" in toml.get(section, {}):
            deadline_s, source = toml[section]["shutdown_timeout_ms"] / 1000, f"{args.toml} [{section}] shutdown_timeout_ms"
        else:
            deadline_s, source = DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000, "default of src/config/app"
        grace = service.get("stop_grace_period")
        grace_s = duration_s(grace) if grace is not None else DOCKER_DEFAULT_GRACE_S
        shown = grace if grace is not None else f"unset, Docker's default {DOCKER_DEFAULT_GRACE_S:g}s"
        check(grace_s >= deadline_s + MARGIN_S,
              f"{name} stop_grace_period ({shown}) exceeds its shutdown deadline "
              f"({deadline_s:g}s, {source}) by at least {MARGIN_S:g}s")

    if failures:
        print(f"compose_check: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("compose_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
