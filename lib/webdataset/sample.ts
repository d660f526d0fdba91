import type { BadSampleReason } from '../preprocess/bad-sample';

/** One WebDataset sample: the members of a tar that share a key, by extension (`png`, `json`, …). */
export interface Sample {
  key: string;
  files: Record<string, Buffer>;
  /** Set by the reader for a sample it would not read whole (a member over a cap, a link member, an unsafe name): why. */
  refused?: { reason: BadSampleReason; detail: string };
}

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp'] as const;

/** A sample id as a WebDataset key: a key may hold '/' (a path) but not '.', which starts the extension. */
export const webdatasetKey = (id: string) => id.replace(/\./g, '_');

/** Splits a member path into WebDataset key and extension: the extension starts at the basename's first dot. */
export function splitMemberName(name: string): { key: string; ext: string } | undefined {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= slash + 1) return undefined;
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

/** The sample's image member, whichever supported format it is stored in. */
export function imageOf(sample: Sample): { ext: string; bytes: Buffer } | undefined {
  for (const ext of IMAGE_EXTENSIONS) {
    const bytes = sample.files[ext];
    if (bytes) return { ext, bytes };
  }
  return undefined;
}
