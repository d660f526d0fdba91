import { z } from 'zod';
import { runConfigSchema } from './schema';

/** The committed JSON Schema of a run's input, for people who start runs from the Temporal UI. */
export const RUN_CONFIG_SCHEMA_FILE = 'schema/run-config.schema.json';

/** The fields that a run names unless it asks for the demo's with `demo: true` (lib/config/schema.ts fills them in then). */
const DEMO_FILLS = ['pool', 'target'];

export function runConfigJsonSchema(): string {
  const { required = [], ...schema } = z.toJSONSchema(runConfigSchema, { io: 'input', target: 'draft-2020-12' });
  // zod sees pool and target as required; the demo alternative is the preprocessing's, stated here.
  const named = required.filter((field) => !DEMO_FILLS.includes(field));
  const demoOrNamed = [{ required: DEMO_FILLS }, { required: ['demo'], properties: { demo: { const: true } } }];
  return `${JSON.stringify({ ...schema, ...(named.length ? { required: named } : {}), anyOf: demoOrNamed, title: 'septflow run configuration' }, null, 2)}\n`;
}
