// The Dockerfile and the compose file, checked without a Docker engine (there is none here): the
// Dockerfile through dockerfile-utils' validator, the compose file as YAML against what the
// pipeline needs. What the image's runtime holds is tested by build/runtime-install.e2e.test.ts.
import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { processorNames } from '../cli/processes.ts';
import { processorOfCommandLine } from '../cli/healthcheck.ts';

const dockerfile = readFileSync('Dockerfile', 'utf8');

interface ComposeService {
  image?: string;
  profiles?: string[];
  command?: string[];
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(readFileSync('docker-compose.kafka.yml', 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

describe('Dockerfile', () => {
  it('has no problem dockerfile-utils reports', () => {
    expect(validate(dockerfile).map((problem) => `${problem.range.start.line + 1}: ${typeof problem.message === 'string' ? problem.message : problem.message.value}`)).toEqual([]);
  });

  it('builds with dev dependencies and runs on node:20-slim with production ones, as a non-root user', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toMatch(/^FROM node:20-slim AS runtime$/m);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toContain('npm ci --omit=dev');
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["node", "dist\/cli\/healthcheck\.js"\]$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/cli\/main\.js"\]$/m);
    expect(runtime).toMatch(/^CMD \["run", "webhook"\]$/m);
  });
});

describe('docker-compose.kafka.yml', () => {
  it('uses the named images', () => {
    expect(services['kafka']?.image).toMatch(/^apache\/kafka:/);
    expect(services['schema-registry']?.image).toMatch(/^confluentinc\/cp-schema-registry:/);
    expect(services['kafka-ui']?.image).toMatch(/^kafbat\/kafka-ui:/);
    expect(services['postgres']?.image).toMatch(/^postgres:/);
  });

  it('gives every service a healthcheck', () => {
    expect(Object.entries(services).filter(([, service]) => service.healthcheck?.test === undefined).map(([name]) => name)).toEqual([]);
  });

  it('runs every processor `cli run` knows from the image, after prepare', () => {
    for (const name of processorNames) {
      expect(services[name], name).toMatchObject({ image: 'payout-pipeline:local', command: ['run', name] });
      expect(services[name]?.depends_on?.['prepare']).toEqual({ condition: 'service_completed_successfully' });
    }
    expect(services['prepare']?.command).toEqual(['prepare']);
  });

  it('depends only on services it defines', () => {
    const missing = Object.entries(services).flatMap(([name, service]) =>
      Object.keys(service.depends_on ?? {})
        .filter((target) => services[target] === undefined)
        .map((target) => `${name} → ${target}`),
    );
    expect(missing).toEqual([]);
  });

  it('keeps the infrastructure stack/docker-stack.ts starts outside the pipeline profile', () => {
    for (const name of ['kafka', 'schema-registry', 'kafka-ui', 'postgres']) expect(services[name]?.profiles).toBeUndefined();
  });
});

describe('the image healthcheck', () => {
  it('finds the processor in the container command line', () => {
    expect(processorOfCommandLine(['node', 'dist/cli/main.js', 'run', 'settlement'])).toBe('settlement');
    expect(processorOfCommandLine(['node', 'dist/cli/main.js', 'prepare'])).toBeUndefined();
    expect(processorOfCommandLine(['node', 'dist/cli/main.js', 'run', 'nothing'])).toBeUndefined();
    expect(processorOfCommandLine(['node', 'dist/cli/main.js', 'run'])).toBeUndefined();
  });
});
