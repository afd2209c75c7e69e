// Kafka and the schema registry run from Maven Central jars on the local JDK, because the dev box
// has Java and Maven but no Docker: Maven fetches or builds them into a cache, java runs them.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PipelineError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { startProgress } from '../core/progress.ts';
import { runToCompletion, spawnDetached, type WatchedChild } from './child-process.ts';
import { lastLines } from './log-tail.ts';
import { readOptional } from './read-optional.ts';

export function javaExecutable(): string {
  const javaHome = process.env['JAVA_HOME'];
  return javaHome === undefined || javaHome === '' ? 'java' : path.join(javaHome, 'bin', 'java');
}

/**
 * Starts a JVM service in its data directory, output going to `outputFile`. `description` names
 * it in the error thrown when java itself cannot be started (e.g. `Kafka`).
 */
export async function spawnJava(
  args: readonly string[],
  options: { dataDirectory: string; env?: NodeJS.ProcessEnv; outputFile: string; description: string },
): Promise<WatchedChild & { pid: number }> {
  const { dataDirectory, description } = options;
  const java = javaExecutable();
  const watched = await spawnDetached(java, args, {
    cwd: dataDirectory,
    ...(options.env === undefined ? {} : { env: options.env }),
    outputFile: options.outputFile,
  });
  const pid = watched.child.pid;
  if (pid === undefined) {
    const state = await watched.exited;
    throw new PipelineError(
      `Could not start ${java} for ${description}: ${state.error?.message ?? 'unknown error'}. Is Java 17+ installed (or JAVA_HOME set)?`,
      { cause: state.error, context: { dataDirectory } },
    );
  }
  return { ...watched, pid };
}

// Maven 3.8 emits colour resets even with -B and style.color=never; they would garble error messages.
const ansiEscape = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/**
 * Runs Maven on `pom`, quietly and in batch mode, into `outputDirectory`, which the caller swaps in
 * whole afterwards: it is cleared first and removed after a failed run, so half-written results
 * never survive. A failure throws a PipelineError that starts with `task` (e.g. `Resolving Kafka
 * jars with Maven`) and ends with Maven's last output lines.
 */
export async function runMaven(settings: {
  task: string;
  pom: string;
  args: readonly string[];
  outputDirectory: string;
  context: Record<string, unknown>;
  /**
   * Each complete output line, with Maven's transfer log on ("Downloaded from <repo>: <url>"):
   * everything else is kept at warnings, as quiet as -q otherwise.
   */
  onLine?: (line: string) => void;
}): Promise<void> {
  const { task, pom, outputDirectory, onLine } = settings;
  await rm(outputDirectory, { recursive: true, force: true });
  const verbosity =
    onLine === undefined
      ? ['-q']
      : ['-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dorg.slf4j.simpleLogger.log.org.apache.maven.cli.transfer.Slf4jMavenTransferListener=info'];
  let partialLine = '';
  const maven = await runToCompletion('mvn', ['-B', ...verbosity, '-Dstyle.color=never', '-f', pom, ...settings.args], {}, onLine === undefined
    ? undefined
    : (chunk) => {
        const lines = (partialLine + chunk).split('\n');
        partialLine = lines.pop() ?? '';
        for (const line of lines) onLine(line.replace(ansiEscape, ''));
      });
  if (maven.error === undefined && maven.code === 0) return;
  await rm(outputDirectory, { recursive: true, force: true });
  const reason =
    maven.error === undefined
      ? `exited with code ${maven.code}`
      : `could not be started (${maven.error.message}); is Maven 3.6.3+ installed and on PATH?`;
  throw new PipelineError(`${task} failed: mvn ${reason}.\n${lastLines(maven.output.replace(ansiEscape, ''), 60)}`, {
    cause: maven.error,
    context: { pom, ...settings.context },
  });
}

/**
 * Wraps a step that runs Maven into a cache directory so that concurrent callers in one process
 * (the stack starting several services at once) share a single Maven run per directory.
 */
export function sharedPerCacheDirectory<T>(
  run: (cacheDirectory: string, log: Logger) => Promise<T>,
): (cacheDirectory: string, log: Logger) => Promise<T> {
  const runs = new Map<string, Promise<T>>();
  return (cacheDirectory, log) => {
    const key = path.resolve(cacheDirectory);
    let result = runs.get(key);
    if (result === undefined) {
      result = run(key, log);
      runs.set(key, result);
      // A failure (offline, Maven missing) must not be cached: the next start should try again.
      result.catch(() => runs.delete(key));
    }
    return result;
  };
}

/** What `resolveMavenClasspath` fetches: a pom's runtime dependencies, recognised by one jar. */
export interface MavenClasspath {
  /** Names the step in logs and errors, e.g. `Resolving Kafka jars with Maven`. */
  task: string;
  pom: string;
  /** The jar that proves the resolve is complete, e.g. `kafka_2.13-`. */
  requiredJarPrefix: string;
}

/**
 * How many runtime artifacts the pom resolves to, from `mvn dependency:tree` in TGF (a node per
 * line before the `#`, the first being the pom itself), which reads poms and downloads no jar.
 * 0 when the tree cannot be had: the download then runs with a bar that only completes at the end.
 */
async function countRuntimeArtifacts(wanted: MavenClasspath, cacheDirectory: string): Promise<number> {
  const treeDirectory = path.join(cacheDirectory, `tree.partial-${process.pid}`);
  const treeFile = path.join(treeDirectory, 'tree.tgf');
  try {
    await runMaven({
      task: `${wanted.task} (dependency tree)`,
      pom: wanted.pom,
      args: ['dependency:tree', '-Dscope=runtime', '-DoutputType=tgf', `-DoutputFile=${treeFile}`],
      outputDirectory: treeDirectory,
      context: { cacheDirectory },
    });
    const nodes = (await readFile(treeFile, 'utf8')).split('\n#')[0]?.split('\n').filter((line) => line.trim() !== '') ?? [];
    return Math.max(0, nodes.length - 1);
  } catch {
    return 0;
  } finally {
    await rm(treeDirectory, { recursive: true, force: true });
  }
}

/**
 * Returns a `java -cp` value for the pom's runtime jars in `cacheDirectory/libs`, running Maven
 * only when the pom changed since the last successful resolve (its hash is kept beside the jars).
 * Resolved into a staging directory and swapped in whole, so an interrupted or failed run never
 * leaves a half-filled libs/ mixing jars of two versions.
 */
export async function resolveMavenClasspath(wanted: MavenClasspath, cacheDirectory: string, log: Logger): Promise<string> {
  const libraries = path.join(cacheDirectory, 'libs');
  const marker = path.join(cacheDirectory, 'libs.pom-sha256');
  const pomHash = createHash('sha256').update(await readFile(wanted.pom)).digest('hex');
  const classpath = path.join(libraries, '*');
  const complete = async (directory: string): Promise<boolean> => {
    const entries = await readdir(directory).catch(() => [] as string[]);
    return entries.some((name) => name.startsWith(wanted.requiredJarPrefix) && name.endsWith('.jar'));
  };

  if ((await readOptional(marker))?.trim() === pomHash && (await complete(libraries))) return classpath;

  const startedAt = Date.now();
  log.info({ cacheDirectory, pom: wanted.pom }, `${wanted.task} (the first run downloads them)`);
  await mkdir(cacheDirectory, { recursive: true });
  const staging = path.join(cacheDirectory, `libs.partial-${process.pid}`);
  const copy = {
    task: wanted.task,
    pom: wanted.pom,
    args: ['dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
    outputDirectory: staging,
    context: { cacheDirectory },
  };
  if (process.stderr.isTTY === true) {
    // A person is watching: a progress bar. How many jars there are comes from the dependency tree
    // (poms only, one more Maven run of a few seconds), then each jar Maven reports downloaded
    // moves the bar; jars already in the local Maven repository are not downloaded, so the bar
    // completes when the copy does. Without a terminal (CI) the two log lines around this say it
    // all, and the extra Maven run is not worth its seconds.
    const total = await countRuntimeArtifacts(wanted, cacheDirectory);
    const progress = startProgress({ label: wanted.task, total, unit: 'jars' });
    let downloaded = 0;
    try {
      await runMaven({
        ...copy,
        onLine: (line) => {
          if (!/^\[INFO\] Downloaded from [^:]+: \S+\.jar /.test(line)) return;
          downloaded += 1;
          progress.update(Math.min(downloaded, total));
        },
      });
      const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar')).length;
      progress.setTotal(jars);
      progress.update(jars);
    } finally {
      progress.stop();
    }
  } else {
    await runMaven(copy);
  }
  if (!(await complete(staging))) {
    throw new PipelineError(`${wanted.task}: Maven succeeded but produced no ${wanted.requiredJarPrefix}*.jar in ${staging}; check ${wanted.pom}.`, {
      context: { pom: wanted.pom, cacheDirectory },
    });
  }
  await rm(libraries, { recursive: true, force: true });
  await rename(staging, libraries);
  await writeFile(marker, `${pomHash}\n`);
  log.info({ cacheDirectory, resolveMs: Date.now() - startedAt }, `${wanted.task}: done`);
  return classpath;
}
