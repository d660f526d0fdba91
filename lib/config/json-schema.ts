import { z } from 'zod';
import { runConfigSchema } from './schema';

/** The committed JSON Schema of a run's input, for people who start runs from the Temporal UI. */
export const RUN_CONFIG_SCHEMA_FILE = 'schema/run-config.schema.json';

export function runConfigJsonSchema(): string {
  const schema = z.toJSONSchema(runConfigSchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'septflow run configuration' }, null, 2)}\n`;
}
