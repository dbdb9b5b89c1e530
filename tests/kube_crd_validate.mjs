// Validates Prometheus Operator objects (monitoring.coreos.com/v1) against their schemas, as
// shipped by the npm package @kubernetes-models/prometheus-operator (JSON schemas generated from
// prometheus-operator's Go API types, compiled to validators). Those schemas type every field
// but do not forbid unknown ones (the API server prunes them, or refuses them when asked for
// strict field validation, as `kubectl apply` does), so this also fails on a field the schema
// never reads: the object is wrapped in a Proxy that records each property the validator looks
// up; an object whose keys it enumerates is a map (labels, annotations) and may hold any key.
//
// Usage: node tests/kube_crd_validate.mjs MODELS_DIR < objects.json   (a JSON array)
// Exit 0 when every object is valid, 1 otherwise; one line per object. tests/kube_validate.py
// runs it for the monitoring.coreos.com objects of each rendered tree.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modelsDir] = process.argv.slice(2);
const schemas = `${modelsDir}/node_modules/@kubernetes-models/prometheus-operator/_schemas`;
const prefix = "ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoring";

// Every object reached, by path: the keys read and whether its keys were enumerated.
function tracked(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  let record = seen.get(path);
  if (!record) {
    record = { value, read: new Set(), map: Array.isArray(value), proxy: null };
    record.proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key !== "string") return Reflect.get(target, key, receiver);
        record.read.add(key);
        const child = Reflect.get(target, key, receiver);
        return Object.hasOwn(target, key) ? tracked(child, `${path}/${key}`, seen) : child;
      },
      has(target, key) {
        if (typeof key === "string") record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.map = true;
        return Reflect.ownKeys(target);
      },
    });
    seen.set(path, record);
  }
  return record.proxy;
}

const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const object of objects) {
  const [group, version] = String(object.apiVersion).split("/");
  const name = `${object.kind}/${object.metadata?.name}`;
  if (group !== "monitoring.coreos.com") {
    console.log(`FAIL ${name}: ${object.apiVersion} is not a Prometheus Operator API`);
    failed++;
    continue;
  }
  const file = `${schemas}/${prefix}${version[0].toUpperCase()}${version.slice(1)}${object.kind}.js`;
  let validate;
  try {
    ({ validate } = await import(pathToFileURL(file).href));
  } catch {
    console.log(`FAIL ${name}: no schema for ${object.apiVersion} ${object.kind}`);
    failed++;
    continue;
  }
  const seen = new Map();
  const problems = [];
  if (!validate(tracked(object, "", seen))) {
    for (const e of validate.errors) {
      const what = e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`;
      problems.push(`${e.instancePath || "/"}: ${what}`);
    }
  }
  for (const [path, record] of seen) {
    if (record.map) continue;
    for (const key of Object.keys(record.value)) {
      if (!record.read.has(key)) problems.push(`${path}/${key}: unknown field`);
    }
  }
  if (problems.length) {
    failed++;
    console.log(`FAIL ${name} (${object.apiVersion}): ${problems.join("; ")}`);
  } else {
    console.log(`ok   ${name} (${object.apiVersion})`);
  }
}
process.exit(failed ? 1 : 0);
