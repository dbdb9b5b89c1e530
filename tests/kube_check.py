#!/usr/bin/env python3
"""Checks rendered Kubernetes manifests (`kubectl kustomize DIR` output) for what tickflow needs
beyond schema validity (tests/kube_validate.py), as tests/compose_check.py does for compose:

- probes: every gather and cache container is live on /healthz and ready on /readyz, never
  live (or started) on /readyz, on the port its metrics endpoint binds, and binds beyond
  loopback ([http] bind, [cache] http_bind);
- stopping: terminationGracePeriodSeconds exceeds the shutdown deadline ([gather]/[cache]
  shutdown_timeout_ms, from the environment, else the rendered tickflow.toml, else 30 s) by at
  least MARGIN_S;
- security: the Pod Security "restricted" profile on every pod and container (non-root as the
  image's user from docker/Dockerfile, no privilege escalation, ALL capabilities dropped,
  RuntimeDefault seccomp, a read-only root filesystem, only its volume types) and requests and
  limits for CPU and memory;
- shards: gather runs in a StatefulSet whose TICKFLOW_GATHER__SHARD is "$(<pod index>)/<replicas>",
  the index from the pod-index label, pods managed in parallel; the listing copies of [markets]
  connectors have a writable directory;
- references: every ConfigMap and Secret a pod names is in the tree (Secrets: with --deployable;
  optional ones may be absent), with the keys it names; credentials come only from Secrets;
- the gate: a Job runs `schemas register` with gather's image, gather keeps auto_register off and
  (with --deployable) both see the same registry URL;
- PodDisruptionBudgets select existing pods and allow a disruption; the PodMonitor selects
  gather and the cache on their metrics port as jobs tickflow-gather and tickflow-cache; the
  PrometheusRule holds exactly docker/prometheus/alerts.yml's groups.

Usage (from the repository root; scripts/test.sh runs it on the base and the example overlay):
    python3 tests/kube_check.py [--deployable] RENDERED.yaml
Exit 0 when every check passes, 1 otherwise; prints each failing check (-v: every check).
"""

import argparse
import re
import sys
import tomllib

import yaml

DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000  # src/config/app/{gather,cache}.rs, DEFAULT_SHUTDOWN_TIMEOUT_MS
MARGIN_S = 5.0  # time after the deadline to purge, print the accounting and exit
DEFAULT_GRACE_S = 30  # Kubernetes' terminationGracePeriodSeconds when unset
POD_INDEX_LABEL = "metadata.labels['apps.kubernetes.io/pod-index']"
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
# Settings that hold credentials (docs/operating.md, *Reliability*: the values config::secret
# redacts).
CREDENTIALS = {"TICKFLOW_KAFKA__SASL_USERNAME", "TICKFLOW_KAFKA__SASL_PASSWORD",
               "TICKFLOW_KAFKA__SSL_KEY_PASSWORD", "TICKFLOW_SCHEMA_REGISTRY__BASIC_AUTH_USER_INFO",
               "TICKFLOW_REDIS__URL"}
# subcommand -> (its bind setting: env var, toml section, key, default; its deadline's section)
SERVES = {
    "gather": (("TICKFLOW_HTTP__BIND", "http", "bind", "127.0.0.1:9464"), "gather"),
    "cache": (("TICKFLOW_CACHE__HTTP_BIND", "cache", "http_bind", "127.0.0.1:9465"), "cache"),
}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"}

failures, passed = [], []
VERBOSE = False


def check(ok, what):
    if VERBOSE or not ok:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    (passed if ok else failures).append(what)
    return ok


def quantity(text):
    """A CPU or memory quantity as a number (cores or bytes)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    if not m or (m.group(2) and m.group(2) not in units):
        raise ValueError(f"not a quantity: {text!r}")
    return float(m.group(1)) * units.get(m.group(2), 1)


def image_user(dockerfile):
    """The numeric user of the image's last USER instruction."""
    users = re.findall(r"^USER\s+(\d+)", open(dockerfile, encoding="utf-8").read(), re.M)
    return int(users[-1]) if users else None


def selects(selector, labels):
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Tree:
    """The objects of one rendered kustomization."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.objects = [o for o in yaml.safe_load_all(f) if o]
        self.by_kind = {}
        for o in self.objects:
            self.by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    def kind(self, kind):
        return list(self.by_kind.get(kind, {}).values())

    def get(self, kind, name):
        return self.by_kind.get(kind, {}).get(name)

    def workloads(self):
        for o in self.objects:
            if o["kind"] in WORKLOADS:
                yield o, o["spec"]["template"]


def containers(pod_spec):
    return (pod_spec.get("initContainers") or []) + pod_spec["containers"]


def subcommand(container):
    args = (container.get("command") or [])[1:] + (container.get("args") or [])
    return args[0] if args else "gather"  # the image's CMD


class Settings:
    """What one container sees: its env (values, references), its envFrom ConfigMaps, and the
    tickflow.toml mounted where it runs."""

    def __init__(self, tree, pod_spec, container):
        self.env = {}
        for e in container.get("env") or []:
            self.env[e["name"]] = e
        self.from_configmaps = {}
        for ref in container.get("envFrom") or []:
            cm = ref.get("configMapRef")
            if cm and tree.get("ConfigMap", cm["name"]):
                self.from_configmaps.update(tree.get("ConfigMap", cm["name"]).get("data") or {})
        self.toml = {}
        workdir = container.get("workingDir", "/etc/tickflow")
        volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
        for m in container.get("volumeMounts") or []:
            if m["mountPath"] == f"{workdir}/tickflow.toml":
                cm = tree.get("ConfigMap", (volumes[m["name"]].get("configMap") or {}).get("name"))
                if cm is not None:
                    self.toml = tomllib.loads(cm["data"][m.get("subPath", "tickflow.toml")])

    def value(self, env_name, section, key, default):
        """The setting: a literal env value, else an envFrom ConfigMap's, else tickflow.toml's,
        else the default. (None when it comes from a reference the tree cannot resolve.)"""
        if env_name in self.env:
            return self.env[env_name].get("value")
        if env_name in self.from_configmaps:
            return self.from_configmaps[env_name]
        return self.toml.get(section, {}).get(key, default)


def check_pod_security(name, pod_spec, uid):
    sc = pod_spec.get("securityContext") or {}
    check(sc.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot")
    check(sc.get("runAsUser") == uid, f"{name}: pod runs as the image's user {uid} (is {sc.get('runAsUser')})")
    check((sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{name}: pod seccompProfile RuntimeDefault")
    check(not any(pod_spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), f"{name}: no host namespaces")
    kinds = {k for v in pod_spec.get("volumes") or [] for k in v if k != "name"}
    check(kinds <= RESTRICTED_VOLUMES, f"{name}: volume types allowed by the restricted profile ({', '.join(sorted(kinds))})")
    for c in containers(pod_spec):
        csc = c.get("securityContext") or {}
        where = f"{name}/{c['name']}"
        check(csc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation false")
        check(csc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
        check(csc.get("runAsNonRoot", sc.get("runAsNonRoot")) is True and csc.get("runAsUser", uid) != 0,
              f"{where}: runs as non-root")
        caps = csc.get("capabilities") or {}
        check("ALL" in (caps.get("drop") or []) and not caps.get("add"), f"{where}: drops ALL capabilities, adds none")
        check(not csc.get("privileged"), f"{where}: not privileged")
        if "seccompProfile" in csc:
            check(csc["seccompProfile"].get("type") == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault")
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for r in ("cpu", "memory"):
            present = check(r in req and r in lim, f"{where}: {r} request and limit ({req.get(r)} / {lim.get(r)})")
            if present:
                check(quantity(req[r]) <= quantity(lim[r]), f"{where}: {r} request within its limit")


def port_number(container, port):
    if isinstance(port, int):
        return port
    return next((p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port), None)


def check_server(name, workload, pod_spec, c, s):
    """gather or cache: probes, bind address, grace period."""
    sub = subcommand(c)
    (env_name, section, key, default), deadline_section = SERVES[sub]
    where = f"{name}/{c['name']} ({sub})"
    bind = str(s.value(env_name, section, key, default))
    host, _, port = bind.rpartition(":")
    check(host in ("0.0.0.0", "[::]"), f"{where}: metrics endpoint binds beyond loopback ({env_name}={bind})")
    probes = {p: c.get(p) for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    paths = {p: ((v or {}).get("httpGet") or {}).get("path") for p, v in probes.items()}
    check(paths["livenessProbe"] == "/healthz", f"{where}: liveness on /healthz (is {paths['livenessProbe']})")
    check(paths["readinessProbe"] == "/readyz", f"{where}: readiness on /readyz (is {paths['readinessProbe']})")
    check(paths["livenessProbe"] != "/readyz" and paths["startupProbe"] != "/readyz",
          f"{where}: /readyz is never a liveness or startup probe (a venue or Redis down would restart it)")
    for p, v in probes.items():
        if v is not None:
            got = port_number(c, (v.get("httpGet") or {}).get("port"))
            check(str(got) == port, f"{where}: {p} on the bound port {port} (is {got})")
    deadline_env = f"TICKFLOW_{deadline_section.upper()}__SHUTDOWN_TIMEOUT_MS"
    deadline_s = int(s.value(deadline_env, deadline_section, "shutdown_timeout_ms", DEFAULT_SHUTDOWN_TIMEOUT_MS)) / 1000
    grace = pod_spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_S)
    check(grace >= deadline_s + MARGIN_S,
          f"{where}: terminationGracePeriodSeconds {grace} exceeds the shutdown deadline {deadline_s:g} s by {MARGIN_S:g} s")


def check_shards(tree, name, workload, pod_spec, c, s):
    if workload["kind"] != "StatefulSet":
        check(workload["spec"].get("replicas", 1) <= 1,
              f"{name}: gather outside a StatefulSet runs one replica (no ordinal to shard by)")
        return
    replicas = workload["spec"].get("replicas", 1)
    env = c.get("env") or []
    names = [e["name"] for e in env]
    index_vars = [e["name"] for e in env
                  if ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") == POD_INDEX_LABEL]
    shard = s.env.get("TICKFLOW_GATHER__SHARD", {}).get("value")
    wanted = [f"$({v})/{replicas}" for v in index_vars if names.index(v) < names.index("TICKFLOW_GATHER__SHARD")] \
        if "TICKFLOW_GATHER__SHARD" in names else []
    check(shard in wanted, f"{name}: TICKFLOW_GATHER__SHARD is $(<pod-index label>)/{replicas}, the replicas (is {shard!r})")
    check(workload["spec"].get("podManagementPolicy") == "Parallel",
          f"{name}: podManagementPolicy Parallel (a shard must not wait for another's venues)")
    # What the shards split, and where [markets] connectors keep their listing copies.
    connectors = {}
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    workdir = c.get("workingDir", "/etc/tickflow")
    for m in c.get("volumeMounts") or []:
        if m["mountPath"] == f"{workdir}/connectors":
            cm = tree.get("ConfigMap", (volumes[m["name"]].get("configMap") or {}).get("name")) or {}
            connectors = {k: tomllib.loads(v) for k, v in (cm.get("data") or {}).items() if k.endswith(".toml")}
    check(bool(connectors), f"{name}: the connectors ConfigMap is mounted at {workdir}/connectors")
    enabled = {k: v for k, v in connectors.items() if v.get("enabled", True)}
    fixed = sorted(k for k, v in enabled.items() if "markets" not in v)
    if replicas > 1 and fixed:
        print(f"note {name}: {', '.join(fixed)} list instruments: every one of the {replicas} shards carries them")
    if replicas > 1:
        check(len(fixed) < len(enabled), f"{name}: some enabled connector follows [markets], which the shards split")
    copies = any(v["markets"].get("cache_file", None) != "" for v in enabled.values() if "markets" in v)
    if copies:
        writable = {m["mountPath"] for m in c.get("volumeMounts") or []
                    if "emptyDir" in volumes[m["name"]] or "persistentVolumeClaim" in volumes[m["name"]]}
        check(f"{workdir}/listings" in writable, f"{name}: {workdir}/listings is writable for the listing copies")


def check_references(tree, name, pod_spec, deployable):
    for c in containers(pod_spec):
        where = f"{name}/{c['name']}"
        for e in c.get("env") or []:
            src = e.get("valueFrom") or {}
            if e["name"] in CREDENTIALS:
                check("secretKeyRef" in src, f"{where}: {e['name']} comes from a Secret")
            for kind, ref in (("ConfigMap", src.get("configMapKeyRef")), ("Secret", src.get("secretKeyRef"))):
                if not ref or (kind == "Secret" and not deployable):
                    continue
                obj = tree.get(kind, ref["name"])
                if obj is None:
                    check(ref.get("optional") is True, f"{where}: {e['name']} names {kind} {ref['name']}, which the tree holds")
                    continue
                keys = set((obj.get("data") or {}) | (obj.get("stringData") or {}))
                # An optional key left out leaves its setting unset (ssl-key-password without TLS
                # client keys).
                check(ref["key"] in keys or ref.get("optional") is True,
                      f"{where}: {e['name']} names key {ref['key']} of {kind} {ref['name']} (keys: {', '.join(sorted(keys))})")
        for ref in c.get("envFrom") or []:
            cm = ref.get("configMapRef")
            if cm:
                check(tree.get("ConfigMap", cm["name"]) is not None or cm.get("optional"),
                      f"{where}: envFrom ConfigMap {cm['name']} is in the tree")
                data = (tree.get("ConfigMap", cm["name"]) or {}).get("data") or {}
                leaked = sorted(CREDENTIALS & set(data))
                check(not leaked, f"{where}: no credential in ConfigMap {cm['name']} ({', '.join(leaked) or 'none'})")
    for v in pod_spec.get("volumes") or []:
        if "configMap" in v:
            check(tree.get("ConfigMap", v["configMap"]["name"]) is not None or v["configMap"].get("optional"),
                  f"{name}: volume {v['name']}: ConfigMap {v['configMap']['name']} is in the tree")
        if "secret" in v and deployable and tree.get("Secret", v["secret"]["secretName"]) is None:
            check(v["secret"].get("optional") is True,
                  f"{name}: volume {v['name']}: Secret {v['secret']['secretName']} is in the tree or optional")


def check_gate(tree, deployable):
    gathers, jobs = [], []
    for w, t in tree.workloads():
        for c in t["spec"]["containers"]:
            args = (c.get("args") or [])
            if w["kind"] != "Job" and subcommand(c) == "gather":
                gathers.append((w, c, Settings(tree, t["spec"], c)))
            if w["kind"] == "Job" and args[:2] == ["schemas", "register"]:
                jobs.append((w, c, Settings(tree, t["spec"], c)))
    if not check(len(jobs) == 1, f"one Job runs `tickflow schemas register` (found {len(jobs)})"):
        return
    job, job_c, job_s = jobs[0]
    check(job["spec"]["template"]["spec"].get("restartPolicy") in ("Never", "OnFailure"),
          "the schemas Job's pods do not restart forever")
    for w, c, s in gathers:
        name = f"{w['kind']}/{w['metadata']['name']}"
        check(c["image"] == job_c["image"], f"{name}: the schemas Job registers the schemas of gather's image ({c['image']})")
        auto = str(s.value("TICKFLOW_SCHEMA_REGISTRY__AUTO_REGISTER", "schema_registry", "auto_register", False)).lower()
        check(auto == "false", f"{name}: auto_register off, so an unregistered schema stops gather at start")
        if deployable:
            url = s.value("TICKFLOW_SCHEMA_REGISTRY__URL", "schema_registry", "url", None)
            check(bool(url), f"{name}: a registry URL is set (without one nothing gates)")
            check(url == job_s.value("TICKFLOW_SCHEMA_REGISTRY__URL", "schema_registry", "url", None),
                  f"{name}: the schemas Job registers with gather's registry")


def check_disruption_budgets(tree):
    templates = [(w, t) for w, t in tree.workloads() if w["kind"] != "Job"]
    for pdb in tree.kind("PodDisruptionBudget"):
        name = f"PodDisruptionBudget/{pdb['metadata']['name']}"
        ns = pdb["metadata"].get("namespace")
        chosen = [w for w, t in templates
                  if w["metadata"].get("namespace") == ns and selects(pdb["spec"].get("selector"), t["metadata"].get("labels") or {})]
        if check(bool(chosen), f"{name}: selects the pods of {', '.join(w['kind'] + '/' + w['metadata']['name'] for w in chosen) or 'nothing'}"):
            replicas = sum(w["spec"].get("replicas", 1) for w in chosen)
            spec = pdb["spec"]
            allows = spec.get("maxUnavailable", 0) not in (0, "0%") if "maxUnavailable" in spec \
                else int(str(spec.get("minAvailable", 0)).rstrip("%") or 0) < replicas
            check(allows, f"{name}: allows a voluntary disruption of {replicas} replica(s)")


def check_monitoring(tree, alerts_file):
    monitors, rules = tree.kind("PodMonitor") + tree.kind("ServiceMonitor"), tree.kind("PrometheusRule")
    if not monitors and not rules:
        print("note no Prometheus Operator objects in this tree")
        return
    alerts = yaml.safe_load(open(alerts_file, encoding="utf-8"))
    check(len(rules) == 1 and rules[0]["spec"]["groups"] == alerts["groups"],
          f"the PrometheusRule holds exactly the groups of {alerts_file}")
    check(len(monitors) == 1 and monitors[0]["kind"] == "PodMonitor",
          "one PodMonitor (pods are scraped whether ready or not)")
    if not monitors:
        return
    pm = monitors[0]
    endpoints = pm["spec"].get("podMetricsEndpoints") or []
    for component in ("gather", "cache"):
        found = [(w, t) for w, t in tree.workloads()
                 if (t["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == component]
        for w, t in found:
            labels = t["metadata"].get("labels") or {}
            name = f"{w['kind']}/{w['metadata']['name']}"
            check(selects(pm["spec"].get("selector"), labels), f"PodMonitor selects {name}")
            ports = {p.get("name") for c in t["spec"]["containers"] for p in c.get("ports") or []}
            check(any(e.get("port") in ports for e in endpoints), f"PodMonitor scrapes a port {name} declares")
            # Prometheus exposes pod label k as __meta_kubernetes_pod_label_<k, non-alphanumerics as _>.
            meta = {"__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in labels.items()}
            jobs = []
            for e in endpoints:
                for r in e.get("relabelings") or []:
                    if r.get("targetLabel") == "job":
                        source = ";".join(meta.get(s, "") for s in r.get("sourceLabels") or [])
                        jobs.append(r.get("replacement", "$1").replace("$1", source))
            check(f"tickflow-{component}" in jobs,
                  f"{name} is scraped as job tickflow-{component}, as the rules expect (relabelled to {jobs})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rendered", help="`kubectl kustomize DIR` output")
    parser.add_argument("--deployable", action="store_true",
                        help="an overlay meant to be applied: its Secrets and endpoints must be there")
    parser.add_argument("--dockerfile", default="docker/Dockerfile")
    parser.add_argument("--alerts", default="docker/prometheus/alerts.yml")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the checks that pass too")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose

    tree = Tree(args.rendered)
    uid = image_user(args.dockerfile)
    print(f"kube_check: {args.rendered} ({len(tree.objects)} objects{', deployable' if args.deployable else ''}), image user {uid}")
    servers = 0
    for w, t in tree.workloads():
        name = f"{w['kind']}/{w['metadata']['name']}"
        pod_spec = t["spec"]
        check_pod_security(name, pod_spec, uid)
        check_references(tree, name, pod_spec, args.deployable)
        for c in pod_spec["containers"]:
            if w["kind"] == "Job" or subcommand(c) not in SERVES:
                continue
            servers += 1
            s = Settings(tree, pod_spec, c)
            check_server(name, w, pod_spec, c, s)
            if subcommand(c) == "gather":
                check_shards(tree, name, w, pod_spec, c, s)
            if args.deployable:
                check(":" in c["image"].rsplit("/", 1)[-1] and not c["image"].endswith(":latest"),
                      f"{name}: image has an explicit tag ({c['image']})")
    check(servers >= 2, f"gather and the cache are both deployed ({servers} long-running containers)")
    if not args.deployable:
        check(not tree.kind("Secret"), "the base holds no Secret (credentials come from an overlay)")
    check_gate(tree, args.deployable)
    check_disruption_budgets(tree)
    check_monitoring(tree, args.alerts)

    if failures:
        print(f"kube_check: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"kube_check: all {len(passed)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
