// The renderer behind the manifests' test: it must apply what it supports as Kustomize does and
// refuse what it does not, or the test would check something other than what a cluster receives.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderKustomization } from './render-kustomization.ts';

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function project(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'render-kustomization-'));
  folders.push(root);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
  return root;
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: app
          image: payout-pipeline
          env:
            - name: A
              value: "1"
            - name: B
              value: "2"
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: app
spec:
  triggers:
    - type: kafka
      metadata: { topic: one }
    - type: kafka
      metadata: { topic: two }
`;

describe('renderKustomization', () => {
  it('applies patches, images, replicas and the namespace of an overlay over its base', async () => {
    const root = await project({
      'base/kustomization.yaml': 'resources: [app.yaml]\n',
      'base/app.yaml': deployment,
      'overlay/kustomization.yaml': 'namespace: env\nresources: [../base]\nimages: [{ name: payout-pipeline, newTag: "1.2.3" }]\nreplicas: [{ name: app, count: 3 }]\npatches: [{ path: patch.yaml }]\n',
      'overlay/patch.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          env:
            - name: B
              value: "20"
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: app
spec:
  triggers:
    - type: kafka
      metadata: { topic: three }
`,
    });
    const [app, scaled] = await renderKustomization(path.join(root, 'overlay'));
    expect(app).toMatchObject({
      metadata: { name: 'app', namespace: 'env' },
      spec: {
        replicas: 3,
        template: { spec: { containers: [{ name: 'app', image: 'payout-pipeline:1.2.3', env: [{ name: 'A', value: '1' }, { name: 'B', value: '20' }] }] } },
      },
    });
    // A custom resource's lists have no merge key: the patch's list replaces the base's.
    expect((scaled as unknown as { spec: { triggers: unknown[] } }).spec.triggers).toEqual([{ type: 'kafka', metadata: { topic: 'three' } }]);
  });

  it('refuses a kustomization field it does not apply', async () => {
    const root = await project({ 'kustomization.yaml': 'resources: [app.yaml]\ncommonLabels: { a: b }\n', 'app.yaml': deployment });
    await expect(renderKustomization(root)).rejects.toThrow(/commonLabels/);
  });

  it('refuses a patch that targets no resource', async () => {
    const root = await project({
      'kustomization.yaml': 'resources: [app.yaml]\npatches: [{ path: patch.yaml }]\n',
      'app.yaml': deployment,
      'patch.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n',
    });
    await expect(renderKustomization(root)).rejects.toThrow(/Deployment\/other/);
  });
});
