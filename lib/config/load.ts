import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { RunConfig } from './schema';
import { ConfigError, parseRunConfig } from './validate';

/** Reads a run configuration from a .json, .yaml or .yml file and validates it. */
export async function loadRunConfig(file: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`]);
  }
  return parseRunConfig(raw);
}
