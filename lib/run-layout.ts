// Where every file of a run lives: the one place that turns a run's output folder and name into
// locations (lib/storage/location.ts): local paths, or `s3://` objects when outputDir is a bucket.
// A trainer reads and writes local files: with a bucket, each job runs in the same layout under the
// worker's scratch folder, and its files go up to the bucket as they are written (lib/trainer/job.ts).
//
//   <outputDir>/                           several runs share it; mirror keys are relative to it
//     <run>/
//       stages/<stage>.json                a completed pipeline stage: its inputs' key and result
//       embed-shards.jsonl                 the pool's shard plan, one ShardRef per line (.offsets beside it: where each starts)
//       census-shards.jsonl                the census's own shard plan of the pool, alike
//       census-pages/page-000000.jsonl …   the census's count of each page of its plan
//       selection/                         the selection stage
//         targets.jsonl                    every target instance, train and test
//         pool-shards.jsonl                the pool's shards, sorted by id, a shard plan (.offsets beside it: a partition reads its own)
//         pool-shards.json                 the same as one JSON array, in folders planned by 0.4.0 and before
//         leakage/<chunk>.json             a merged target chunk's leakage candidates, until the selection is written
//         subset.jsonl                     the subset manifest, in selection order
//         stats.json                       the selection's statistics
//         contact-sheet.png                targets and the pool images they retrieved
//         shards/subset-000000.tar …       the subset as WebDataset shards
//         subset-groups/group-000000.json … the pool shards and samples each subset-writing activity copies
//       dedup/                             pool deduplication (lib/dedup/): the groups live in the store
//         pool-shards.jsonl                the pool's shards, sorted by id, a shard plan (.offsets beside it)
//         stats.json                       how many images were removed, in how many groups
//         contact-sheet.png                the largest groups: each representative, then its removed copies
//       samples/<name>/                    a uniform random pool sample (stage 0, the random arm)
//         pool-shards.jsonl                the sample's own shard plan of the pool (.offsets beside it), read page by page
//         target-ids.jsonl                 the target's ids, one JSON string a line: no page samples them
//         pages/page-000000.jsonl …        each page's lowest-ranked samples, folded into the manifest
//         sample.jsonl                     its manifest
//         groups/group-000000.json …       the pool shards and samples each shard-copying activity copies
//         shards/subset-000000.tar …
//       target/<content>/                  the labeled target, one folder per content of target.train and target.test:
//         train[-<n>-per-class]/           the labeled train set: shard-000000.tar …, index.json
//         test/                            the labeled test set, alike
//         classes.json                     the target's class indices, one mapping for train and test
//                                          (in a bucket, a split's index.json is written last: it marks the split complete)
//       train/<variant>/<job>/             one trainer job (variant `main`, or an experiment arm)
//         <stage>.config.json              its trainer configuration
//         events.jsonl                     every trainer event of every attempt
//         checkpoints/checkpoint-<step>.pt
//         metrics.json, encoder.onnx, …    what the trainer writes there (trainer/PROTOCOL.md)
//       report.md, report.html             the run report
//       figures/                           the report's figures
//       experiment/results.md, results.json
import { createHash } from 'node:crypto';
import { isAbsolute, join, relative, sep } from 'node:path';
import { isObjectUri } from './object-store';
import { folderName } from './storage/access';
import { locationIn, outputLocation, scratchDir } from './storage/location';

const TRAIN = 'train';

/** The selection stage's files; its folder travels in the selection plan, so they are found from it. */
export function selectionFiles(dir: string) {
  return {
    dir,
    targets: locationIn(dir, 'targets.jsonl'),
    poolShards: locationIn(dir, 'pool-shards.json'),
    poolShardPlan: locationIn(dir, 'pool-shards.jsonl'),
    /** The merged target chunks' leakage candidates, `<chunk>.json` each. */
    leakage: locationIn(dir, 'leakage'),
    manifest: locationIn(dir, 'subset.jsonl'),
    stats: locationIn(dir, 'stats.json'),
    contactSheet: locationIn(dir, 'contact-sheet.png'),
    shards: locationIn(dir, 'shards'),
    subsetGroups: locationIn(dir, 'subset-groups'),
  };
}
export type SelectionFiles = ReturnType<typeof selectionFiles>;

/** Pool deduplication's files; its folder travels in the dedup plan. */
export function dedupFiles(dir: string) {
  return { dir, poolShardPlan: locationIn(dir, 'pool-shards.jsonl'), stats: locationIn(dir, 'stats.json'), contactSheet: locationIn(dir, 'contact-sheet.png') };
}

/** A trainer job's folder: where the trainer runs, its `output_dir`; or where its files are kept. */
export interface TrainerJobFiles {
  dir: string;
  /** The trainer's `checkpoint_dir`. */
  checkpoints: string;
  events: string;
  /** The trainer configuration of one stage of the job. */
  config(stage: string): string;
}

export interface LabeledTargetFiles {
  train(perClass: number | undefined): string;
  test: string;
  validation(perClass: number, validationPerClass: number): string;
  classes: string;
}

/** A random pool sample's files, in the order its steps write them (lib/selection/random-sample.ts). */
export interface PoolSampleFiles {
  poolShardPlan: string;
  targetIds: string;
  /** The folder of the pages' files, removed once they are folded. */
  pages: string;
  page(page: number): string;
  /** The fold's result, so that a retried fold returns it after the pages are gone. */
  fold: string;
  manifest: string;
  /** The subset-shard groups of its copy (lib/selection/subset-shards.ts). */
  groups: string;
  shards: string;
}

export interface ReportFiles {
  markdown: string;
  html: string;
  /** The folder of the report's figures, linked from the report by relative path. */
  figures: string;
}

function trainerJobFiles(runDir: string, variant: string, job: string): TrainerJobFiles {
  // A trainModel's variant comes from its arguments: a name, never a way out of the run's folder.
  const dir = locationIn(runDir, TRAIN, folderName('variant', variant), job);
  return { dir, checkpoints: locationIn(dir, 'checkpoints'), events: locationIn(dir, 'events.jsonl'), config: (stage) => locationIn(dir, `${stage}.config.json`) };
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
    this.outputRoot = outputLocation(outputDir);
    this.dir = locationIn(this.outputRoot, run);
  }

  /** Whether the run's files are objects in a bucket. */
  get inBucket(): boolean {
    return isObjectUri(this.outputRoot);
  }

  /**
   * Where this machine keeps the run's trainer files: the output folder itself, or for a bucket the
   * same layout in this worker's scratch folder, one folder per output prefix.
   */
  private get localRoot(): string {
    if (!this.inBucket) return this.outputRoot;
    return join(scratchDir(), 'outputs', createHash('sha256').update(this.outputRoot).digest('hex').slice(0, 16));
  }

  stageRecord(stage: string): string {
    return locationIn(this.dir, 'stages', `${stage}.json`);
  }

  get poolShardPlan(): string {
    return locationIn(this.dir, 'embed-shards.jsonl');
  }

  /** The census's: its own, so that a census never lists the pool anew under an embedding that pages through the other. */
  get censusShardPlan(): string {
    return locationIn(this.dir, 'census-shards.jsonl');
  }

  /** Page `page` of the census's plan, counted: its labels in full, folded into the census once every page is counted. */
  censusPage(page: number): string {
    return locationIn(this.dir, 'census-pages', `page-${String(page).padStart(6, '0')}.jsonl`);
  }

  get selection(): SelectionFiles {
    return selectionFiles(locationIn(this.dir, 'selection'));
  }

  get dedup(): ReturnType<typeof dedupFiles> {
    return dedupFiles(locationIn(this.dir, 'dedup'));
  }

  poolSample(name: string): PoolSampleFiles {
    const dir = locationIn(this.dir, 'samples', name);
    return {
      poolShardPlan: locationIn(dir, 'pool-shards.jsonl'),
      targetIds: locationIn(dir, 'target-ids.jsonl'),
      pages: locationIn(dir, 'pages'),
      page: (page) => locationIn(dir, 'pages', `page-${String(page).padStart(6, '0')}.jsonl`),
      fold: locationIn(dir, 'fold.json'),
      manifest: locationIn(dir, 'sample.jsonl'),
      groups: locationIn(dir, 'groups'),
      shards: locationIn(dir, 'shards'),
    };
  }

  /**
   * The labeled target's files for one content of target.train and target.test (its fingerprint,
   * lib/target/labeled-subset.ts): the train set's folder, one per `labelsPerClass`; the test set's;
   * the validation split's, one per `labelsPerClass` and `validationPerClass`;
   * the class indices (lib/target/classes.ts) beside the sets that use them.
   */
  labeledTarget(content: string): LabeledTargetFiles {
    const dir = locationIn(this.dir, 'target', content);
    return {
      train: (perClass) => locationIn(dir, perClass ? `train-${perClass}-per-class` : 'train'),
      test: locationIn(dir, 'test'),
      validation: (perClass, validationPerClass) => locationIn(dir, `validation-${validationPerClass}-after-${perClass}-per-class`),
      classes: locationIn(dir, 'classes.json'),
    };
  }

  /** Where a trainer job's files are kept. */
  trainerJob(variant: string, job: string): TrainerJobFiles {
    return trainerJobFiles(this.dir, variant, job);
  }

  /** Where a trainer job runs on this machine: its own folder, or for a bucket its scratch copy (localRoot). */
  localTrainerJob(variant: string, job: string): TrainerJobFiles {
    return this.inBucket ? trainerJobFiles(join(this.localRoot, this.run), variant, job) : this.trainerJob(variant, job);
  }

  get report(): ReportFiles {
    return { markdown: locationIn(this.dir, 'report.md'), html: locationIn(this.dir, 'report.html'), figures: locationIn(this.dir, 'figures') };
  }

  get experiment(): { markdown: string; json: string } {
    const dir = locationIn(this.dir, 'experiment');
    return { markdown: locationIn(dir, 'results.md'), json: locationIn(dir, 'results.json') };
  }

  /**
   * A file's key: its `/`-separated path under the output folder (`<run>/train/…`), the same on every
   * machine, as the checkpoint mirror stores it; for a bucket, also an object's under its prefix. A
   * path written on another machine (another data dir) is recognized by this run's trainer folder;
   * undefined for anything else.
   */
  keyOf(path: string): string | undefined {
    if (isObjectUri(path)) return path.startsWith(`${this.outputRoot}/`) ? path.slice(this.outputRoot.length + 1) : undefined;
    const rel = relative(this.localRoot, path);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
    const at = path.lastIndexOf(`${sep}${this.run}${sep}${TRAIN}${sep}`);
    return at >= 0 ? path.slice(at + 1).split(sep).join('/') : undefined;
  }

  /** The file of a key on this machine (localRoot). */
  fileOf(key: string): string {
    return join(this.localRoot, ...key.split('/'));
  }

  /** Where the file of a key is kept: under the output folder or prefix. */
  locationOf(key: string): string {
    return locationIn(this.outputRoot, ...key.split('/'));
  }
}
