// Validates Kubernetes objects against the JSON Schema validators that the
// npm package kubernetes-models ships (generated with ajv from the Kubernetes
// OpenAPI spec; version pinned in package.json / package-lock.json).
//
// Input (stdin, JSON): {"modules": "<node_modules dir>", "items": [
//   {"id": "...", "as": "object" | "container" | "objectmeta", "value": {...}}]}
// Output (stdout, JSON): [{"id", "ok", "errors": [...], "unknown": [...]}]
//
// "object" picks the schema from apiVersion and kind through the package's
// own model module (<group>/<version>/<Kind>.mjs imports its schema). The
// schemas do not forbid unknown fields, so, like kubectl's strict field
// validation, every field of the input that the validator never looked at
// is reported as unknown: the validator reads exactly the properties its
// schema defines (and iterates maps), so an unread field is one the schema
// does not have.
import { readFileSync, existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const input = JSON.parse(readFileSync(0, "utf8"));
const models = path.join(input.modules, "kubernetes-models");
const apimachinery = path.join(input.modules, "@kubernetes-models", "apimachinery");

const cache = new Map();
async function load(file) {
  if (!cache.has(file)) {
    cache.set(file, (await import(pathToFileURL(file).href)).validate);
  }
  return cache.get(file);
}

async function validatorFor(item) {
  if (item.as === "container") {
    return load(path.join(models, "_schemas", "IoK8sApiCoreV1Container.mjs"));
  }
  if (item.as === "objectmeta") {
    return load(path.join(apimachinery, "_schemas", "IoK8sApimachineryPkgApisMetaV1ObjectMeta.mjs"));
  }
  const { apiVersion, kind } = item.value;
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) {
    throw new Error("no apiVersion/kind");
  }
  // Core objects ("v1") live in v1/, others in <group>/<version>/.
  const modelFile = path.join(models, ...apiVersion.split("/"), `${kind}.mjs`);
  if (!existsSync(modelFile)) {
    throw new Error(`kubernetes-models has no schema for ${apiVersion} ${kind}`);
  }
  const match = readFileSync(modelFile, "utf8").match(/_schemas\/(\w+)\.mjs/);
  if (!match) throw new Error(`cannot find the schema of ${apiVersion} ${kind}`);
  return load(path.join(models, "_schemas", `${match[1]}.mjs`));
}

// A deep copy whose every object records the keys the validator reads.
function tracked(value, at, seen) {
  if (value === null || typeof value !== "object") return value;
  const copy = Array.isArray(value)
    ? value.map((v, i) => tracked(v, `${at}/${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${at}/${k}`, seen)]));
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string") seen.add(`${at}/${key}`);
      return Reflect.get(target, key, receiver);
    },
    ownKeys(target) {
      for (const key of Reflect.ownKeys(target)) {
        if (typeof key === "string") seen.add(`${at}/${key}`);
      }
      return Reflect.ownKeys(target);
    },
  });
}

function fieldPaths(value, at, out) {
  if (value === null || typeof value !== "object") return out;
  for (const [key, v] of Object.entries(value)) {
    const p = `${at}/${key}`;
    if (!Array.isArray(value)) out.push(p);
    fieldPaths(v, p, out);
  }
  return out;
}

const results = [];
for (const item of input.items) {
  const result = { id: item.id, ok: false, errors: [], unknown: [] };
  try {
    const validate = await validatorFor(item);
    const seen = new Set();
    if (validate(tracked(item.value, "", seen))) {
      result.unknown = fieldPaths(item.value, "", []).filter((p) => !seen.has(p));
      result.ok = result.unknown.length === 0;
    } else {
      result.errors = (validate.errors || []).map(
        (e) => `${e.instancePath || "/"} ${e.message || e.keyword} ${JSON.stringify(e.params || {})}`,
      );
    }
  } catch (err) {
    result.errors = [String(err && err.message ? err.message : err)];
  }
  results.push(result);
}
process.stdout.write(JSON.stringify(results));
