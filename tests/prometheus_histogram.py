"""Reads a histogram family with Prometheus' own Python text parser (prometheus_client) and
checks it against the samples that were recorded: every `le` bucket counts exactly the samples
at or below its bound, buckets are cumulative, `+Inf` and `_count` are the number of samples and
`_sum` their sum. An independent reader of tickflow's exposition (tests/observability.rs).

Usage: python3 tests/prometheus_histogram.py EXPOSITION_FILE SAMPLES_FILE NAME
(SAMPLES_FILE: one sample per line, in seconds as decimal text.)
"""
import math
import sys
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families


def main():
    exposition, samples_file, name = sys.argv[1:4]
    with open(exposition, encoding="utf-8") as f:
        text = f.read()
    with open(samples_file, encoding="utf-8") as f:
        samples = [Decimal(line) for line in f if line.strip()]
    family = next(
        (m for m in text_string_to_metric_families(text) if m.name == name), None
    )
    if family is None or family.type != "histogram":
        sys.exit(f"no histogram family {name}")
    buckets, count, total = [], None, None
    for s in family.samples:
        if s.name == name + "_bucket":
            buckets.append((s.labels["le"], s.value))
        elif s.name == name + "_count":
            count = s.value
        elif s.name == name + "_sum":
            total = s.value
    problems = []
    previous = -1
    for le, value in buckets:
        bound = math.inf if le == "+Inf" else Decimal(le)
        want = sum(1 for v in samples if v <= bound)
        if value != want:
            problems.append(f'le="{le}": {value:g}, but {want} samples are <= {le}')
        if value < previous:
            problems.append(f'le="{le}": {value:g} below the bucket before it')
        previous = value
    if not buckets or buckets[-1][0] != "+Inf":
        problems.append("no +Inf bucket last")
    if count != len(samples):
        problems.append(f"_count {count}, {len(samples)} samples")
    if not math.isclose(total, float(sum(samples)), rel_tol=1e-9):
        problems.append(f"_sum {total}, samples sum to {sum(samples)}")
    if problems:
        sys.exit("\n".join(problems))
    print(f"ok: {name}: {len(buckets)} buckets, {len(samples)} samples, read by prometheus_client")


if __name__ == "__main__":
    main()
