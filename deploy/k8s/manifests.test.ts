// The Kubernetes manifests as a cluster would receive them: the base and each overlay rendered
// (render-kustomization.ts), every object validated against the Kubernetes API schemas
// (kubernetes-models) or KEDA's (@kubernetes-models/keda), and the references between the
// manifests and the code checked: a Deployment per `run` processor, secrets that are settings of
// core/config.ts and keys of the documented Secret, probes on the ports the processes listen on,
// autoscaling capped at the partitions of the consumed topics. No cluster, no binary: seconds.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { configSchema, loadConfig } from '../../core/config.ts';
import { processorNames, processorUrls } from '../../cli/processor-names.ts';
import { topicDefinitions } from '../../topics/topics.ts';
import { replicationSettingsOf } from '../../topics/topic-plan.ts';
import { renderKustomization, type KubernetesObject } from './render-kustomization.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const builds = ['base', 'overlays/staging', 'overlays/production'] as const;
const overlays = ['overlays/staging', 'overlays/production'] as const;
const secretName = 'payout-pipeline-secrets';
const configMapName = 'payout-pipeline-config';
const topicsConfigMapName = 'payout-pipeline-topics';
/** core/shutdown.ts: a drain that has not finished after this long exits by itself. */
const drainTimeoutSeconds = 30;
/** The processes that must never be autoscaled: one active, one standby, the advisory lock decides. */
const singleWriters = ['changenow', 'chain'];

interface Probe {
  httpGet: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}
interface DeploymentShape {
  metadata: { name: string; namespace?: string };
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { containers: Container[]; terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean } };
    };
  };
}
interface ScaledObjectShape {
  metadata: { name: string };
  spec: {
    scaleTargetRef: { name: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: { type: string; metadata: Record<string, string> }[];
  };
}

/** The validating model of each kind the manifests may hold; any other kind fails the test. */
const models: Record<string, (object: KubernetesObject) => { validate(): void }> = {
  'v1/ConfigMap': (object) => new ConfigMap(object),
  'v1/Namespace': (object) => new Namespace(object),
  'v1/Service': (object) => new Service(object),
  'apps/v1/Deployment': (object) => new Deployment(object),
  'policy/v1/PodDisruptionBudget': (object) => new PodDisruptionBudget(object),
  'batch/v1/Job': (object) => new Job(object),
  'autoscaling/v2/HorizontalPodAutoscaler': (object) => new HorizontalPodAutoscaler(object),
  'keda.sh/v1alpha1/ScaledObject': (object) => new ScaledObject(object as never),
};

const rendered = new Map<string, KubernetesObject[]>();
async function render(build: string): Promise<KubernetesObject[]> {
  const cached = rendered.get(build);
  if (cached !== undefined) return cached;
  const objects = await renderKustomization(path.join(here, build));
  rendered.set(build, objects);
  return objects;
}

const ofKind = <T>(objects: readonly KubernetesObject[], kind: string): T[] => objects.filter((object) => object.kind === kind) as unknown as T[];
const deploymentsOf = (objects: readonly KubernetesObject[]) => ofKind<DeploymentShape>(objects, 'Deployment');
const containerOf = (deployment: DeploymentShape): Container => {
  expect(deployment.spec.template.spec.containers, deployment.metadata.name).toHaveLength(1);
  return deployment.spec.template.spec.containers[0]!;
};
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

function portNumber(container: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((candidate) => candidate.name === port);
  if (named === undefined) throw new Error(`${container.name}: no container port named ${port}`);
  return named.containerPort;
}

async function documentedSecretKeys(): Promise<string[]> {
  const secret = parse(await readFile(path.join(here, 'base/secret.example.yaml'), 'utf8')) as { metadata: { name: string }; stringData: Record<string, string> };
  expect(secret.metadata.name).toBe(secretName);
  return Object.keys(secret.stringData);
}

function configOf(objects: readonly KubernetesObject[]) {
  const configMap = ofKind<{ metadata: { name: string }; data: Record<string, string> }>(objects, 'ConfigMap').find((map) => map.metadata.name === configMapName);
  if (configMap === undefined) throw new Error(`no ConfigMap ${configMapName}`);
  return { data: configMap.data, config: loadConfig(configMap.data) };
}

describe.each(builds)('deploy/k8s/%s', (build) => {
  it('renders only objects that validate against the Kubernetes and KEDA schemas', async () => {
    const objects = await render(build);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const model = models[`${object.apiVersion}/${object.kind}`];
      expect(model, `${object.apiVersion} ${object.kind} has no validating model here`).toBeDefined();
      expect(() => model!(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it('has one Deployment per `run` processor, running that processor', async () => {
    const deployments = deploymentsOf(await render(build));
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([...processorNames].sort());
    for (const deployment of deployments) {
      const container = containerOf(deployment);
      expect(container.args).toEqual(['run', deployment.metadata.name]);
      expect(container.image.startsWith('payout-pipeline')).toBe(true);
      expect(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    }
  });

  it('reads only real settings: the ConfigMap is a valid configuration, each secret a documented key', async () => {
    const objects = await render(build);
    const settings = new Set(Object.keys(configSchema.shape));
    const { data } = configOf(objects);
    expect(Object.keys(data).filter((name) => !settings.has(name))).toEqual([]);
    const secretKeys = await documentedSecretKeys();
    expect(secretKeys.filter((key) => !settings.has(key))).toEqual([]);
    for (const deployment of deploymentsOf(objects)) {
      const container = containerOf(deployment);
      expect(container.envFrom).toEqual([{ configMapRef: { name: configMapName } }]);
      for (const variable of container.env ?? []) {
        const reference = variable.valueFrom?.secretKeyRef;
        // Secrets only come by reference, and never through the ConfigMap.
        expect(reference, `${deployment.metadata.name}: ${variable.name} is not a secret reference`).toBeDefined();
        expect(reference!.name).toBe(secretName);
        expect(secretKeys).toContain(reference!.key);
        expect(variable.name).toBe(reference!.key);
        expect(Object.keys(data)).not.toContain(variable.name);
      }
      expect(container.env?.map((variable) => variable.name), deployment.metadata.name).toContain('DATABASE_URL');
    }
  });

  it('runs `prepare` as a Job that reads the per-environment topic replication, valid settings of `topics apply`', async () => {
    const objects = await render(build);
    const jobs = ofKind<{ metadata: { name: string }; spec: { template: { spec: { containers: Container[] } } } }>(objects, 'Job');
    expect(jobs.map((job) => job.metadata.name)).toEqual(['prepare']);
    const [container, ...others] = jobs[0]!.spec.template.spec.containers;
    expect(others).toEqual([]);
    expect(container!.args).toEqual(['prepare']);
    expect(container!.image.startsWith('payout-pipeline')).toBe(true);
    expect(container!.envFrom).toEqual([{ configMapRef: { name: configMapName } }, { configMapRef: { name: topicsConfigMapName } }]);
    expect(container!.env?.map((variable) => variable.valueFrom?.secretKeyRef?.key)).toEqual(['DATABASE_URL']);
    const topicsConfig = ofKind<{ metadata: { name: string }; data: Record<string, string> }>(objects, 'ConfigMap').find((map) => map.metadata.name === topicsConfigMapName);
    expect(Object.keys(topicsConfig?.data ?? {}).sort()).toEqual(['TOPIC_MIN_INSYNC_REPLICAS', 'TOPIC_REPLICATION_FACTOR']);
    // What the Job's process would read: both ConfigMaps as one environment, checked as `topics apply` checks it.
    const settings = replicationSettingsOf(loadConfig({ ...configOf(objects).data, ...topicsConfig!.data }));
    expect(settings.replicationFactor).toBeGreaterThanOrEqual(settings.minInSyncReplicas ?? 1);
  });

  it('probes /health and /ready on the port each process listens on', async () => {
    const objects = await render(build);
    const { config } = configOf(objects);
    const listening = processorUrls(config);
    for (const deployment of deploymentsOf(objects)) {
      const name = deployment.metadata.name as keyof typeof listening;
      const container = containerOf(deployment);
      const servingPort = Number(new URL(listening[name]).port);
      expect(portNumber(container, 'http'), name).toBe(servingPort);
      // The webhook serves its probes on WEBHOOK_METRICS_PORT when set, every other process on its one port.
      const probePort = name === 'webhook' ? (config.WEBHOOK_METRICS_PORT ?? config.WEBHOOK_PORT) : servingPort;
      expect(container.livenessProbe?.httpGet.path).toBe('/health');
      expect(container.startupProbe?.httpGet.path).toBe('/health');
      expect(container.readinessProbe?.httpGet.path).toBe('/ready');
      for (const probe of [container.livenessProbe!, container.readinessProbe!, container.startupProbe!]) {
        expect(portNumber(container, probe.httpGet.port), `${name} ${probe.httpGet.path}`).toBe(probePort);
      }
    }
  });

  it('runs every process non-root on a read-only root filesystem, with requests and limits', async () => {
    for (const deployment of deploymentsOf(await render(build))) {
      const container = containerOf(deployment);
      expect(deployment.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      for (const part of ['requests', 'limits'] as const) {
        expect(Object.keys(container.resources?.[part] ?? {}).sort(), `${deployment.metadata.name} ${part}`).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('lets the webhook leave the load balancer before it stops listening, and every drain finish', async () => {
    for (const deployment of deploymentsOf(await render(build))) {
      const container = containerOf(deployment);
      const preStopSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      if (deployment.metadata.name === 'webhook') expect(preStopSeconds).toBeGreaterThanOrEqual(5);
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30, deployment.metadata.name).toBeGreaterThan(preStopSeconds + drainTimeoutSeconds);
    }
  });

  it('covers every Deployment with a PodDisruptionBudget, and points Services at real ports', async () => {
    const objects = await render(build);
    const deployments = deploymentsOf(objects);
    const budgets = ofKind<{ spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
    for (const deployment of deployments) {
      const labels = deployment.spec.template.metadata.labels;
      expect(budgets.filter((budget) => selects(budget.spec.selector.matchLabels, labels)), deployment.metadata.name).toHaveLength(1);
    }
    const services = ofKind<{ metadata: { name: string }; spec: { selector: Record<string, string>; ports: { targetPort: string }[] } }>(objects, 'Service');
    expect(services.map((service) => service.metadata.name).sort()).toEqual(['admin', 'webhook']);
    for (const service of services) {
      const [target, ...others] = deployments.filter((deployment) => selects(service.spec.selector, deployment.spec.template.metadata.labels));
      expect(others).toEqual([]);
      for (const port of service.spec.ports) expect(() => portNumber(containerOf(target!), port.targetPort)).not.toThrow();
    }
  });

  it('autoscales consumers on the lag of topics they consume, never past their partition count', async () => {
    const objects = await render(build);
    const deployments = deploymentsOf(objects);
    const partitions = new Map(topicDefinitions.map((topic) => [topic.name, topic.partitions]));
    const scaled = ofKind<ScaledObjectShape>(objects, 'ScaledObject');
    expect(scaled.length).toBeGreaterThan(0);
    for (const scaledObject of scaled) {
      const target = deployments.find((deployment) => deployment.metadata.name === scaledObject.spec.scaleTargetRef.name);
      expect(target, scaledObject.metadata.name).toBeDefined();
      // KEDA owns the replicas; a count in the Deployment would fight it on every apply.
      expect(target!.spec.replicas).toBeUndefined();
      const topics = scaledObject.spec.triggers.map((trigger) => {
        expect(trigger.type).toBe('kafka');
        // Each process's consumer group is named after it (routerConsumerGroup = 'router' in
        // processors/router/start-router.ts, and so on); not imported, because loading the
        // processors would cost this test more time than all its checks.
        expect(trigger.metadata.consumerGroup).toBe(target!.metadata.name);
        expect(trigger.metadata.allowIdleConsumers).toBe('false');
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
        expect(partitions.has(trigger.metadata.topic!), trigger.metadata.topic).toBe(true);
        return trigger.metadata.topic!;
      });
      const cap = Math.max(...topics.map((topic) => partitions.get(topic)!));
      expect(scaledObject.spec.maxReplicaCount).toBeDefined();
      expect(scaledObject.spec.maxReplicaCount!).toBeLessThanOrEqual(cap);
      expect(scaledObject.spec.minReplicaCount ?? 0).toBeLessThanOrEqual(scaledObject.spec.maxReplicaCount!);
    }
    const autoscaled = [
      ...scaled.map((scaledObject) => scaledObject.spec.scaleTargetRef.name),
      ...ofKind<{ spec: { scaleTargetRef: { name: string } } }>(objects, 'HorizontalPodAutoscaler').map((hpa) => hpa.spec.scaleTargetRef.name),
    ];
    for (const name of autoscaled) expect(deployments.find((deployment) => deployment.metadata.name === name)?.spec.replicas, name).toBeUndefined();
    for (const name of singleWriters) expect(autoscaled).not.toContain(name);
  });
});

describe.each(overlays)('deploy/k8s/%s', (overlay) => {
  it('runs the single writers as one active and one standby', async () => {
    const deployments = deploymentsOf(await render(overlay));
    for (const name of singleWriters) expect(deployments.find((deployment) => deployment.metadata.name === name)?.spec.replicas, name).toBe(2);
  });

  it('pins the image tag and puts everything in its namespace', async () => {
    const objects = await render(overlay);
    const [namespace, ...others] = ofKind<{ metadata: { name: string } }>(objects, 'Namespace');
    expect(others).toEqual([]);
    for (const object of objects.filter((candidate) => candidate.kind !== 'Namespace')) expect(object.metadata.namespace).toBe(namespace!.metadata.name);
    for (const deployment of deploymentsOf(objects)) expect(containerOf(deployment).image).toMatch(/^payout-pipeline:(?!latest$)[\w][\w.-]*$/);
  });
});

describe('the checks above can fail', () => {
  it('the schema validation refuses a malformed Deployment', () => {
    const malformed = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: {} } };
    expect(() => new Deployment(malformed as never).validate()).toThrow();
  });

  it('a ConfigMap value the configuration refuses fails loadConfig', () => {
    expect(() => loadConfig({ WEBHOOK_PORT: 'eighty' })).toThrow(/WEBHOOK_PORT/);
  });
});
