import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainSourceSplit } from '../../../../lib/target/split-of';

const splits = (target: Parameters<typeof trainSourceSplit>[0], labels: (string | undefined)[]) => {
  const splitOf = trainSourceSplit(target);
  return labels.map((label) => splitOf(label) ?? '-');
};

describe('the split of a target.train sample', () => {
  const labels = ['a', 'b', 'a', 'a', undefined, 'b', 'a', 'b', 'b', undefined, 'a'];

  it('every sample trains without labelsPerClass', () => {
    assert.deepEqual(new Set(splits({}, labels)), new Set(['train']));
  });

  it('the first labelsPerClass of each class train, in shard order; the rest are left out', () => {
    assert.deepEqual(splits({ labelsPerClass: 2 }, labels), ['train', 'train', 'train', '-', 'train', 'train', '-', '-', '-', 'train', '-']);
  });

  it('the next validationPerClass of each class are the validation split; unlabeled samples count as a class of their own', () => {
    assert.deepEqual(splits({ labelsPerClass: 1, validationPerClass: 2 }, labels), [
      'train', 'train', 'validation', 'validation', 'train', 'validation', '-', 'validation', '-', 'validation', '-',
    ]);
  });
});
