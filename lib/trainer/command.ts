import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { REFERENCE_TRAINER, type RunConfig, TRAINER_COMMAND_REFUSED, trainerName } from '../config/schema';
import { ConfigError, describeIssues } from '../config/validate';
import { workerSettingsFromEnv } from '../config/worker-settings';
import { projectRoot } from '../paths';

/**
 * The trainers a sept-gpu worker runs, by name: a run asks for one (`trainer.name`), the worker
 * decides what that name runs, so nothing typed into a run configuration picks a program. Built in:
 * `reference`, the reference trainer. SEPT_TRAINERS names a JSON file of others:
 *
 *   { "<name>": { "command": ["/opt/trainers/mine", "--fp16"], "env": { "WANDB_MODE": "offline" } } }
 *
 * `reference` cannot be redefined there (the worker refuses to start): a run that asks for the
 * reference trainer gets it on every worker. Its Python is SEPT_TRAINER_PYTHON's.
 */

/** What a trainer name runs: executable and leading arguments, and the variables its process gets besides the minimal environment (lib/trainer/environment.ts). */
export interface TrainerCommand {
  command: string[];
  env: Record<string, string>;
}

/** The reference trainer, run by the Python that setup prepared (or `SEPT_TRAINER_PYTHON`). */
export function referenceTrainerCommand(): TrainerCommand {
  const python = process.env.SEPT_TRAINER_PYTHON ?? join(projectRoot, '.venv-trainer', 'bin', 'python');
  return { command: [python, '-m', 'septtrainer'], env: { PYTHONPATH: join(projectRoot, 'trainer'), PYTHONUNBUFFERED: '1' } };
}

const registryEntry = z
  .object({
    command: z.array(z.string().min(1)).min(1),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).default({}),
  })
  .strict();

// Names are checked here, not as the record's keys, so that a bad one is refused with the rule it breaks.
const registryFile = z.record(z.string(), registryEntry, { error: 'expected an object of trainers by name, { "<name>": { "command": [...], "env": { ... } } }' }).superRefine((entries, ctx) => {
  for (const name of Object.keys(entries)) {
    const named = trainerName.safeParse(name);
    if (!named.success) ctx.addIssue({ code: 'custom', path: [name], message: `not a trainer name: ${named.error.issues[0].message}` });
  }
  if (REFERENCE_TRAINER in entries) {
    ctx.addIssue({ code: 'custom', path: [REFERENCE_TRAINER], message: 'the built-in reference trainer cannot be redefined; give this trainer another name (SEPT_TRAINER_PYTHON sets the reference trainer\'s Python)' });
  }
});

/** A worker's trainers: the reference trainer and those of its SEPT_TRAINERS file. */
export class TrainerRegistry {
  private constructor(private readonly registered: ReadonlyMap<string, TrainerCommand>) {}

  /** The trainers of `file` (none: the reference trainer only). A bad file throws, naming the file and the entry. */
  static load(file: string | undefined): TrainerRegistry {
    if (!file) return new TrainerRegistry(new Map());
    const invalid = (problem: string) => new Error(`invalid trainer registry ${file} (SEPT_TRAINERS): ${problem}`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw invalid(`cannot read it: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw invalid(`not valid JSON: ${(err as Error).message}`);
    }
    const parsed = registryFile.safeParse(raw);
    if (!parsed.success) throw invalid(describeIssues(parsed.error.issues).join('; '));
    return new TrainerRegistry(new Map(Object.entries(parsed.data)));
  }

  /** Every name a run may ask for here, the reference trainer first. */
  get names(): string[] {
    return [REFERENCE_TRAINER, ...[...this.registered.keys()].sort()];
  }

  /** What `name` runs here; a name this worker lacks is the run's error, not retryable. */
  command(name: string): TrainerCommand {
    if (name === REFERENCE_TRAINER) return referenceTrainerCommand();
    const entry = this.registered.get(name);
    if (entry) return entry;
    throw new ConfigError([
      `trainer.name: "${name}" is not a trainer of this sept-gpu worker, which has: ${this.names.join(', ')} (its operator registers trainers in the worker's SEPT_TRAINERS file)`,
    ]);
  }
}

const registries = new Map<string | undefined, TrainerRegistry>();

/** This process's trainers, read once per SEPT_TRAINERS file (lib/config/worker-settings.ts): a worker is restarted to change them. */
export function workerTrainers(env: NodeJS.ProcessEnv = process.env): TrainerRegistry {
  const { trainersFile } = workerSettingsFromEnv(env);
  let registry = registries.get(trainersFile);
  if (!registry) registries.set(trainersFile, (registry = TrainerRegistry.load(trainersFile)));
  return registry;
}

/** What the run's trainer runs on this worker. */
export function trainerCommand(config: RunConfig, registry: TrainerRegistry = workerTrainers()): TrainerCommand {
  // A configuration resolved by an earlier release (recorded by a run still in flight) may name a command, and no trainer.
  const { name, command } = config.trainer as { name?: string; command?: unknown };
  if (command !== undefined) throw new ConfigError([`trainer.command: ${TRAINER_COMMAND_REFUSED}`]);
  return registry.command(name ?? REFERENCE_TRAINER);
}
