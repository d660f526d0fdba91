import { readFileSync } from 'node:fs';
import type { DemoDataset } from '../config/sources';

/** 28x28 grayscale images of one class, row-major, one byte per pixel. */
export interface DemoClass {
  label: number;
  name: string;
  pixels: Uint8Array;
  count: number;
}

export const IMAGE_SIDE = 28;
const PIXELS = IMAGE_SIDE * IMAGE_SIDE;

const CLASS_NAMES: Record<DemoDataset, readonly string[]> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
};

// The `mnist` package stores each class as one flat array of floats in [0, 1]; `fashion-mnist`
// as an array of 784-long arrays of bytes, with two empty entries in class 0 that we drop.
function loadClassFile(dataset: DemoDataset, label: number): Uint8Array {
  const file =
    dataset === 'mnist'
      ? require.resolve(`mnist/src/digits/${label}.json`)
      : require.resolve(`fashion-mnist/src/clothes/${label}.json`);
  const data = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] | number[][] }).data;
  if (dataset === 'mnist') return Uint8Array.from(data as number[], (v) => Math.round(v * 255));
  const images = (data as number[][]).filter((image) => image.length === PIXELS);
  const pixels = new Uint8Array(images.length * PIXELS);
  images.forEach((image, i) => pixels.set(image, i * PIXELS));
  return pixels;
}

/** Loads one class of a demo dataset from its npm package. */
export function loadDemoClass(dataset: DemoDataset, label: number): DemoClass {
  const pixels = loadClassFile(dataset, label);
  return { label, name: CLASS_NAMES[dataset][label], pixels, count: pixels.length / PIXELS };
}

export function demoImage(cls: DemoClass, index: number): Uint8Array {
  return cls.pixels.subarray(index * PIXELS, (index + 1) * PIXELS);
}
