// `npm run schema`: regenerates the committed JSON Schema of the run configuration.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RUN_CONFIG_SCHEMA_FILE, runConfigJsonSchema } from './json-schema';

const file = resolve(__dirname, '..', '..', RUN_CONFIG_SCHEMA_FILE);
writeFileSync(file, runConfigJsonSchema());
console.log(`wrote ${file}`);
