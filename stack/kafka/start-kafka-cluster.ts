// A native three-node (or n-node) KRaft cluster for failover tests: every node a broker and a voter
// of the controller quorum, each its own JVM on its own ports and data directory, all started from
// the same code as the single dev broker (start-native-kafka.ts, given a ClusterMember). A node can
// be SIGKILLed and restarted on its data, which is what a broker crash and its recovery are.
import path from 'node:path';
import { PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { findFreePort } from '../service.ts';
import { newClusterId, startNativeKafka, type ClusterMember, type NativeKafka, type NativeKafkaOptions } from './start-native-kafka.ts';

export interface KafkaClusterOptions {
  /** Node n keeps its data in `<dataDirectory>/node-<n>`. */
  dataDirectory: string;
  cacheDirectory: string;
  log: Logger;
  /** Default 3: the smallest cluster where replication 3 with min.insync 2 survives one broker. */
  nodeCount?: number;
  /** Per node; default 384m (three nodes on a two-core, shared dev box). */
  maxHeap?: string;
  readyTimeoutMs?: number;
}

export interface KafkaCluster {
  /** Every node's client address, in node order: what clients bootstrap from. */
  readonly brokers: readonly string[];
  /** Kafka's node id of each node index (index 0 is node id 1). */
  readonly nodeIdOf: (nodeIndex: number) => number;
  /** The node index of a Kafka node id, e.g. a partition's leader. */
  readonly nodeIndexOf: (nodeId: number) => number;
  readonly isRunning: (nodeIndex: number) => boolean;
  /** SIGKILL of one node: no controlled shutdown, no leadership handover. */
  kill(nodeIndex: number): Promise<void>;
  /** Starts a killed or stopped node again on its own data directory and ports; resolves once it serves clients. */
  restart(nodeIndex: number): Promise<void>;
  /** Kills every node: a test cluster's data is thrown away afterwards, so no controlled shutdown is waited for. */
  stop(): Promise<void>;
}

interface NodeSlot {
  options: NativeKafkaOptions;
  running: NativeKafka | undefined;
}

/** Starts every node at once (a quorum needs a majority of voters before any of them serves) and resolves when all serve clients. */
export async function startKafkaCluster(options: KafkaClusterOptions): Promise<KafkaCluster> {
  const nodeCount = options.nodeCount ?? 3;
  if (!Number.isInteger(nodeCount) || nodeCount < 1) throw new PipelineError(`A Kafka cluster needs at least one node, got ${nodeCount}.`);
  const ports = await distinctFreePorts(nodeCount * 2);
  const voters = Array.from({ length: nodeCount }, (_, index) => ({ nodeId: index + 1, controllerPort: ports[nodeCount + index]! }));
  const clusterId = newClusterId();
  // Internal topics as production has them: consumer offsets and transaction state on three
  // replicas where there are three nodes, two of them in sync, so one broker may die.
  const internalReplication = Math.min(3, nodeCount);
  const minInSync = Math.max(1, internalReplication - 1);
  const slots: NodeSlot[] = voters.map((voter, index) => {
    const clusterMember: ClusterMember = { nodeId: voter.nodeId, voters, clusterId };
    return {
      running: undefined,
      options: {
        port: ports[index]!,
        controllerPort: voter.controllerPort,
        dataDirectory: path.join(options.dataDirectory, `node-${voter.nodeId}`),
        cacheDirectory: options.cacheDirectory,
        log: options.log.child({ kafkaNode: voter.nodeId }),
        maxHeap: options.maxHeap ?? '384m',
        ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
        clusterMember,
        extraProperties: {
          'offsets.topic.replication.factor': internalReplication,
          'transaction.state.log.replication.factor': internalReplication,
          'transaction.state.log.min.isr': minInSync,
          'default.replication.factor': internalReplication,
          'min.insync.replicas': minInSync,
          // Ten partitions instead of 50: every one of them is led and replicated by three JVMs on a
          // two-core box, and the readiness check probes each one.
          'offsets.topic.num.partitions': 10,
          'transaction.state.log.num.partitions': 10,
        },
      },
    };
  });
  const slotOf = (nodeIndex: number): NodeSlot => {
    const slot = slots[nodeIndex];
    if (slot === undefined) throw new PipelineError(`No Kafka node with index ${nodeIndex}; the cluster has ${nodeCount}.`);
    return slot;
  };

  const started = await Promise.allSettled(slots.map(async (slot) => (slot.running = await startNativeKafka(slot.options))));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await killAll(slots);
    throw failure.reason;
  }

  return {
    brokers: slots.map((slot) => `localhost:${slot.options.port}`),
    nodeIdOf: (nodeIndex) => slotOf(nodeIndex).options.clusterMember!.nodeId,
    nodeIndexOf: (nodeId) => {
      const index = voters.findIndex((voter) => voter.nodeId === nodeId);
      if (index < 0) throw new PipelineError(`No Kafka node with id ${nodeId}.`);
      return index;
    },
    isRunning: (nodeIndex) => slotOf(nodeIndex).running !== undefined,
    kill: async (nodeIndex) => {
      const slot = slotOf(nodeIndex);
      await slot.running?.kill();
      slot.running = undefined;
    },
    restart: async (nodeIndex) => {
      const slot = slotOf(nodeIndex);
      if (slot.running !== undefined) throw new PipelineError(`Kafka node ${nodeIndex + 1} is running; kill it first.`);
      slot.running = await startNativeKafka(slot.options);
    },
    stop: async () => {
      await killAll(slots);
    },
  };
}

async function killAll(slots: NodeSlot[]): Promise<void> {
  await Promise.all(slots.flatMap((slot) => (slot.running === undefined ? [] : [slot.running.kill()])));
  for (const slot of slots) slot.running = undefined;
}

/** findFreePort may hand out a port twice when nothing binds it in between; a cluster needs them all distinct. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePort());
  return [...ports];
}
