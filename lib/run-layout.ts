// Where every file of a run lives: the one place that turns a run's output folder and name into
// locations. Object storage (an s3:// outputDir) and confinement to allowed roots belong here too.
//
//   <outputDir>/                           several runs share it; mirror keys are relative to it
//     <run>/
//       stages/<stage>.json                a completed pipeline stage: its inputs' key and result
//       embed-shards.jsonl                 the pool's shard plan, one ShardRef per line
//       selection/                         the selection stage
//         targets.jsonl                    every target instance, train and test
//         pool-shards.json                 the pool's shards, sorted by id
//         subset.jsonl                     the subset manifest, in selection order
//         stats.json                       the selection's statistics
//         contact-sheet.png                targets and the pool images they retrieved
//         shards/subset-000000.tar …       the subset as WebDataset shards
//       samples/<name>/                    a uniform random pool sample (stage 0, the random arm)
//         sample.jsonl                     its manifest
//         shards/subset-000000.tar …
//       target/train[-<n>-per-class]/      the labeled target train set: shard-000000.tar …, index.json
//       train/<variant>/<job>/             one trainer job (variant `main`, or an experiment arm)
//         <stage>.config.json              its trainer configuration
//         events.jsonl                     every trainer event of every attempt
//         checkpoints/checkpoint-<step>.pt
//         metrics.json, encoder.onnx, …    what the trainer writes there (trainer/PROTOCOL.md)
//       report.md, report.html             the run report
//       figures/                           the report's figures
//       experiment/results.md, results.json
import { isAbsolute, join, relative, sep } from 'node:path';
import { resolveDataPath } from './paths';

const TRAIN = 'train';

/** The selection stage's files; its folder travels in the selection plan, so they are found from it. */
export function selectionFiles(dir: string) {
  return {
    dir,
    targets: join(dir, 'targets.jsonl'),
    poolShards: join(dir, 'pool-shards.json'),
    manifest: join(dir, 'subset.jsonl'),
    stats: join(dir, 'stats.json'),
    contactSheet: join(dir, 'contact-sheet.png'),
    shards: join(dir, 'shards'),
  };
}
export type SelectionFiles = ReturnType<typeof selectionFiles>;

export interface TrainerJobFiles {
  /** The trainer's `output_dir`. */
  dir: string;
  /** The trainer's `checkpoint_dir`. */
  checkpoints: string;
  events: string;
  /** The trainer configuration of one stage of the job. */
  config(stage: string): string;
}

export interface ReportFiles {
  markdown: string;
  html: string;
  /** The folder of the report's figures, linked from the report by relative path. */
  figures: string;
}

/** The locations of one run, named by what they hold. */
export class RunLayout {
  /** `<outputDir>/<run>`: everything the run writes is under it. */
  readonly dir: string;
  private readonly outputRoot: string;

  constructor(
    outputDir: string,
    readonly run: string,
  ) {
    this.outputRoot = resolveDataPath(outputDir);
    this.dir = join(this.outputRoot, run);
  }

  stageRecord(stage: string): string {
    return join(this.dir, 'stages', `${stage}.json`);
  }

  get poolShardPlan(): string {
    return join(this.dir, 'embed-shards.jsonl');
  }

  get selection(): SelectionFiles {
    return selectionFiles(join(this.dir, 'selection'));
  }

  poolSample(name: string): { manifest: string; shards: string } {
    const dir = join(this.dir, 'samples', name);
    return { manifest: join(dir, 'sample.jsonl'), shards: join(dir, 'shards') };
  }

  /** The labeled target train set's folder, one per `labelsPerClass`. */
  labeledTarget(perClass: number | undefined): string {
    return join(this.dir, 'target', perClass ? `train-${perClass}-per-class` : 'train');
  }

  trainerJob(variant: string, job: string): TrainerJobFiles {
    const dir = join(this.dir, TRAIN, variant, job);
    return { dir, checkpoints: join(dir, 'checkpoints'), events: join(dir, 'events.jsonl'), config: (stage) => join(dir, `${stage}.config.json`) };
  }

  get report(): ReportFiles {
    return { markdown: join(this.dir, 'report.md'), html: join(this.dir, 'report.html'), figures: join(this.dir, 'figures') };
  }

  get experiment(): { markdown: string; json: string } {
    const dir = join(this.dir, 'experiment');
    return { markdown: join(dir, 'results.md'), json: join(dir, 'results.json') };
  }

  /**
   * A file's key: its `/`-separated path under the output folder (`<run>/train/…`), the same on every
   * machine, as the checkpoint mirror stores it. A path written on another machine (another data
   * dir) is recognized by this run's trainer folder; undefined for anything else.
   */
  keyOf(path: string): string | undefined {
    const rel = relative(this.outputRoot, path);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
    const at = path.lastIndexOf(`${sep}${this.run}${sep}${TRAIN}${sep}`);
    return at >= 0 ? path.slice(at + 1).split(sep).join('/') : undefined;
  }

  /** The file of a key on this machine. */
  fileOf(key: string): string {
    return join(this.outputRoot, ...key.split('/'));
  }
}
