// Where the schema tooling finds its inputs: the current Avro schemas (`<schemas>/avro/*.avsc`),
// read in a fixed order so that everything generated from them is deterministic.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipelineError } from '../core/errors.ts';

/** The repository's `schemas/` directory (holds `avro/`, `history/` and `generated/`). */
export const schemasDirectory: string = fileURLToPath(new URL('.', import.meta.url));

export interface SchemaFile {
  /** File name without `.avsc`; also the schema's name in `topics.ts` and in `history/`. */
  readonly name: string;
  readonly path: string;
  readonly text: string;
  readonly json: unknown;
}

const avroExtension = '.avsc';

export function avroDirectoryOf(directory: string): string {
  return join(directory, 'avro');
}

export function parseSchemaText(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PipelineError(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error, context: { path } });
  }
}

/** The current schemas of `<directory>/avro`, sorted by name. */
export async function readSchemaFiles(directory: string): Promise<SchemaFile[]> {
  const avroDirectory = avroDirectoryOf(directory);
  const entries = await readdir(avroDirectory);
  const names = entries
    .filter((entry) => entry.endsWith(avroExtension))
    .map((entry) => entry.slice(0, -avroExtension.length))
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const path = join(avroDirectory, `${name}${avroExtension}`);
      const text = await readFile(path, 'utf8');
      return { name, path, text, json: parseSchemaText(text, path) };
    }),
  );
}
