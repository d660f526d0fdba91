import sharp from 'sharp';
import { type DemoClass, demoImage, IMAGE_SIDE } from './datasets';

/**
 * The demo's planted near-duplicates: copies of a known share of a dataset's train images, each
 * re-encoded, slightly resized or cropped, so that pool deduplication has something real to find
 * and its recall and precision can be measured against the known answer.
 */
export type CopyTransform = 'jpeg' | 'resize' | 'crop';

/** One planted copy: its sample key, the key of the image it copies, and how it was made. */
export interface NearDuplicate {
  key: string;
  original: string;
  transform: CopyTransform;
}

/** One train image in COPY_EVERY gets a copy; one in SECOND_COPY_EVERY a second one (a group of three). */
export const COPY_EVERY = 50;
const SECOND_COPY_EVERY = 250;
const TRANSFORMS: readonly CopyTransform[] = ['jpeg', 'resize', 'crop'];

/** The copies of image `index` of a class, by planting rule: none, one, or two with different transforms. */
export function plantedCopies(index: number): CopyTransform[] {
  if (index % COPY_EVERY !== 0) return [];
  const first = TRANSFORMS[(index / COPY_EVERY) % TRANSFORMS.length];
  if (index % SECOND_COPY_EVERY !== 0) return [first];
  return [first, TRANSFORMS[(index / COPY_EVERY + 1) % TRANSFORMS.length]];
}

/** The copy's image file: extension and bytes. */
export async function copyImage(cls: DemoClass, index: number, transform: CopyTransform): Promise<{ ext: 'jpg' | 'png'; bytes: Buffer }> {
  // sharp works in sRGB; the copies stay one-channel, like their originals.
  const image = sharp(Buffer.from(demoImage(cls, index)), { raw: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 1 } }).toColourspace('b-w');
  switch (transform) {
    case 'jpeg':
      return { ext: 'jpg', bytes: await image.jpeg({ quality: 70 }).toBuffer() };
    case 'resize':
      return { ext: 'png', bytes: await image.resize(32, 32, { kernel: 'lanczos3' }).png().toBuffer() };
    case 'crop':
      // One pixel off every side, scaled back to the original size.
      return { ext: 'png', bytes: await image.extract({ left: 1, top: 1, width: IMAGE_SIDE - 2, height: IMAGE_SIDE - 2 }).resize(IMAGE_SIDE, IMAGE_SIDE).png().toBuffer() };
  }
}
