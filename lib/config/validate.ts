import type { z } from 'zod';
import { runConfigSchema, type RunConfig } from './schema';

/** Invalid run configuration (or, as `subject` says, other input of a run). `issues` name each offending field by its path. */
export class ConfigError extends Error {
  constructor(
    readonly issues: string[],
    subject = 'run configuration',
  ) {
    super(`invalid ${subject}: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

function fieldPath(path: PropertyKey[], root: string): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc ? `${acc}.${String(key)}` : String(key);
  }, root);
}

/**
 * One line per problem, each starting with the field's path, e.g. `retrieval.bugdet: unknown field`;
 * under `root` where the value is part of something larger (`trainModel argument 2 (options).variant: …`).
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], root = ''): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${fieldPath([...issue.path, key], root)}: unknown field`);
    }
    return [`${fieldPath(issue.path, root) || '(root)'}: ${issue.message}`];
  });
}

/** Validates a run configuration and fills in defaults; throws ConfigError naming every bad field. */
export function parseRunConfig(input: unknown): RunConfig {
  const result = runConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues));
  return result.data;
}
