// `npm run schema`: regenerates the committed JSON Schema of the run configuration and its
// reference page, both derived from the zod schema.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RUN_CONFIG_DOCS_FILE, runConfigReference } from './config-docs';
import { RUN_CONFIG_SCHEMA_FILE, runConfigJsonSchema } from './json-schema';

for (const [name, content] of [
  [RUN_CONFIG_SCHEMA_FILE, runConfigJsonSchema()],
  [RUN_CONFIG_DOCS_FILE, runConfigReference()],
]) {
  const file = resolve(__dirname, '..', '..', name);
  writeFileSync(file, content);
  console.log(`wrote ${file}`);
}
