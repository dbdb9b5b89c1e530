#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests (`kubectl kustomize DIR` output) against the API
schemas, unknown fields included:

- Kubernetes' own kinds: PyPI kubernetes-validate's strict schemas (additionalProperties false
  everywhere) of the Kubernetes version given. A kind it has no schema for fails.
- monitoring.coreos.com kinds (PodMonitor, PrometheusRule): tests/kube_crd_validate.mjs, over
  the npm package @kubernetes-models/prometheus-operator in MODELS_DIR.

Usage (scripts/test.sh, with kubernetes-validate on PYTHONPATH):
    python3 tests/kube_validate.py --kubernetes 1.32 --models MODELS_DIR RENDERED.yaml...
Exit 0 when every object of every file is valid, 1 otherwise; one line per object.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes_validate import utils as kv

CRD_GROUP = "monitoring.coreos.com/"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes", required=True, help="the Kubernetes version, e.g. 1.32")
    parser.add_argument("--models", required=True, help="where npm installed @kubernetes-models/prometheus-operator")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    failed = 0
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        print(f"kube_validate: {path}: {len(objects)} objects, Kubernetes {args.kubernetes} (strict)")
        crds = []
        for o in objects:
            name = f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"
            if str(o.get("apiVersion", "")).startswith(CRD_GROUP):
                crds.append(o)
                continue
            try:
                version = kv.validate(o, args.kubernetes, strict=True)
                print(f"ok   {name} ({o['apiVersion']}, schema {version})")
            except kv.ValidationError as e:
                where = ".".join(str(p) for p in e.path) or "(top)"
                print(f"FAIL {name} ({o.get('apiVersion')}): {where}: {e.message}")
                failed += 1
            except kv.SchemaNotFoundError as e:
                print(f"FAIL {name}: {e.message}")
                failed += 1
        if crds:
            sys.stdout.flush()  # our lines before node's
            run = subprocess.run(
                ["node", str(Path(__file__).with_name("kube_crd_validate.mjs")), args.models],
                input=json.dumps(crds), text=True, check=False,
            )
            failed += run.returncode != 0
    if failed:
        print("kube_validate: FAILED (the FAIL lines above)", file=sys.stderr)
        return 1
    print("kube_validate: every object is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
