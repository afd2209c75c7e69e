// Renders a kustomization the way `kustomize build` does, for the subset of Kustomize the manifests
// in deploy/k8s use, so the tests can check what a cluster would receive without a kustomize or
// kubectl binary. Anything outside that subset is refused with its name, rather than silently
// rendered differently from the real tool: a new field in a kustomization.yaml must be taught here
// first.
//
// Supported: `resources` (YAML files, or folders holding a kustomization), `namespace`, `images`
// (newName, newTag, digest), `replicas`, and `patches` given by `path` that are strategic-merge
// patches naming their target by apiVersion, kind and name. Strategic merge here: maps merge
// recursively, a null value removes the key, and lists of built-in kinds whose items all carry
// a `name` merge by name (containers, env, volumes, volumeMounts, ports); any other list is
// replaced whole, which is also what Kustomize does for custom resources (no merge keys).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const supportedFields = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'replicas', 'patches']);
/** API groups Kustomize knows the merge keys of; lists of other kinds are replaced whole. */
const builtInApiVersions = new Set(['v1', 'apps/v1', 'policy/v1', 'autoscaling/v2']);
const clusterScopedKinds = new Set(['Namespace']);

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectKey(object: { apiVersion: string; kind: string; metadata: { name: string } }): string {
  return `${object.apiVersion}/${object.kind}/${object.metadata.name}`;
}

async function readYamlDocuments(file: string): Promise<JsonObject[]> {
  const documents = parseAllDocuments(await readFile(file, 'utf8'));
  const objects: JsonObject[] = [];
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((error) => error.message).join('; ')}`);
    const value = document.toJS() as Json;
    if (value === null) continue;
    if (!isObject(value)) throw new Error(`${file}: a document is not a mapping`);
    objects.push(value);
  }
  return objects;
}

function asKubernetesObject(value: JsonObject, source: string): KubernetesObject {
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !isObject(metadata) || typeof metadata.name !== 'string') {
    throw new Error(`${source}: an object without apiVersion, kind or metadata.name`);
  }
  return value as unknown as KubernetesObject;
}

function mergeList(target: Json[], patch: Json[], mergeByName: boolean): Json[] {
  const named = (items: Json[]): items is JsonObject[] => items.every((item) => isObject(item) && typeof item.name === 'string');
  if (!mergeByName || !named(patch) || !named(target)) return patch;
  const merged: Json[] = [...target];
  for (const item of patch) {
    const index = merged.findIndex((existing) => isObject(existing) && existing.name === item.name);
    if (index === -1) merged.push(item);
    else merged[index] = mergeValue(merged[index]!, item, mergeByName);
  }
  return merged;
}

function mergeValue(target: Json, patch: Json, mergeByName: boolean): Json {
  if (isObject(target) && isObject(patch)) {
    const merged: JsonObject = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete merged[key];
      else merged[key] = key in merged ? mergeValue(merged[key]!, value, mergeByName) : value;
    }
    return merged;
  }
  if (Array.isArray(target) && Array.isArray(patch)) return mergeList(target, patch, mergeByName);
  return patch;
}

/** Applies one strategic-merge patch to the object it names; fails when it names none. */
export function applyStrategicMergePatch(objects: readonly KubernetesObject[], patch: JsonObject, source: string): KubernetesObject[] {
  const target = asKubernetesObject(patch, source);
  const key = objectKey(target);
  const index = objects.findIndex((object) => objectKey(object) === key);
  if (index === -1) throw new Error(`${source}: the patch targets ${key}, which is not among the resources`);
  const merged = mergeValue(objects[index] as unknown as Json, patch, builtInApiVersions.has(target.apiVersion));
  return objects.map((object, at) => (at === index ? asKubernetesObject(merged as JsonObject, source) : object));
}

function splitImage(image: string): { name: string; suffix: string } {
  const digestAt = image.indexOf('@');
  const withoutDigest = digestAt === -1 ? image : image.slice(0, digestAt);
  const tagAt = withoutDigest.lastIndexOf(':');
  const name = tagAt > withoutDigest.lastIndexOf('/') && tagAt !== -1 ? withoutDigest.slice(0, tagAt) : withoutDigest;
  return { name, suffix: image.slice(name.length) };
}

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

function applyImages(objects: readonly KubernetesObject[], rules: readonly ImageRule[]): KubernetesObject[] {
  const retag = (image: string): string => {
    const { name, suffix } = splitImage(image);
    const rule = rules.find((candidate) => candidate.name === name);
    if (rule === undefined) return image;
    const newName = rule.newName ?? name;
    if (rule.digest !== undefined) return `${newName}@${rule.digest}`;
    if (rule.newTag !== undefined) return `${newName}:${rule.newTag}`;
    return `${newName}${suffix}`;
  };
  return objects.map((object) => {
    const template = (object as unknown as { spec?: { template?: { spec?: { containers?: { image: string }[]; initContainers?: { image: string }[] } } } }).spec?.template?.spec;
    if (template === undefined) return object;
    const containers = (list: { image: string }[] | undefined) => list?.map((container) => ({ ...container, image: retag(container.image) }));
    const spec = { ...template, ...(template.containers === undefined ? {} : { containers: containers(template.containers) }), ...(template.initContainers === undefined ? {} : { initContainers: containers(template.initContainers) }) };
    const outer = (object as unknown as { spec: { template: JsonObject } }).spec;
    return { ...object, spec: { ...outer, template: { ...outer.template, spec } } };
  });
}

function applyReplicas(objects: readonly KubernetesObject[], rules: readonly { name: string; count: number }[], source: string): KubernetesObject[] {
  for (const rule of rules) {
    if (!objects.some((object) => object.kind === 'Deployment' && object.metadata.name === rule.name)) {
      throw new Error(`${source}: replicas names the Deployment ${rule.name}, which is not among the resources`);
    }
  }
  return objects.map((object) => {
    const rule = rules.find((candidate) => object.kind === 'Deployment' && candidate.name === object.metadata.name);
    return rule === undefined ? object : ({ ...object, spec: { ...(object.spec as JsonObject), replicas: rule.count } });
  });
}

function applyNamespace(objects: readonly KubernetesObject[], namespace: string): KubernetesObject[] {
  return objects.map((object) =>
    clusterScopedKinds.has(object.kind) ? object : { ...object, metadata: { ...object.metadata, namespace } },
  );
}

/** The objects `kustomize build <folder>` would print, in the order of the resources. */
export async function renderKustomization(folder: string): Promise<KubernetesObject[]> {
  const file = path.join(folder, 'kustomization.yaml');
  const [kustomization] = await readYamlDocuments(file);
  if (kustomization === undefined) throw new Error(`${file}: empty`);
  const unsupported = Object.keys(kustomization).filter((field) => !supportedFields.has(field));
  if (unsupported.length > 0) throw new Error(`${file}: fields this renderer does not apply: ${unsupported.join(', ')}`);

  let objects: KubernetesObject[] = [];
  for (const resource of (kustomization.resources ?? []) as string[]) {
    const resourcePath = path.join(folder, resource);
    if ((await stat(resourcePath)).isDirectory()) objects.push(...(await renderKustomization(resourcePath)));
    else objects.push(...(await readYamlDocuments(resourcePath)).map((value) => asKubernetesObject(value, resourcePath)));
  }
  const seen = new Set<string>();
  for (const object of objects) {
    if (seen.has(objectKey(object))) throw new Error(`${file}: ${objectKey(object)} is defined twice`);
    seen.add(objectKey(object));
  }
  for (const patch of (kustomization.patches ?? []) as JsonObject[]) {
    const unsupportedPatch = Object.keys(patch).filter((field) => field !== 'path');
    if (unsupportedPatch.length > 0 || typeof patch.path !== 'string') {
      throw new Error(`${file}: only patches given by path are applied (found ${Object.keys(patch).join(', ')})`);
    }
    const patchFile = path.join(folder, patch.path);
    for (const document of await readYamlDocuments(patchFile)) objects = applyStrategicMergePatch(objects, document, patchFile);
  }
  if (kustomization.images !== undefined) objects = applyImages(objects, kustomization.images as unknown as ImageRule[]);
  if (kustomization.replicas !== undefined) {
    objects = applyReplicas(objects, kustomization.replicas as unknown as { name: string; count: number }[], file);
  }
  if (typeof kustomization.namespace === 'string') objects = applyNamespace(objects, kustomization.namespace);
  return objects;
}
