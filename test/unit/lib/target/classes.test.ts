import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../../lib/config/validate';
import type { TargetInstance } from '../../../../lib/selection/target-set';
import { targetClasses } from '../../../../lib/target/classes';

/** Target instances from `split:label` pairs (`train` alone: unlabeled). */
const targets = (...pairs: string[]): TargetInstance[] =>
  pairs.map((pair, i) => {
    const [split, label] = pair.split(':');
    return { id: `t/${i}`, split: split as TargetInstance['split'], label };
  });

const problems = (instances: TargetInstance[], validationPerClass?: number): string[] => {
  try {
    targetClasses(instances, validationPerClass);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  return assert.fail('the labels should be refused');
};

describe('the class indices of a target', () => {
  it('integer labels are their own indices, gaps included, as runs have always read them', () => {
    assert.deepEqual(targetClasses(targets('train:0', 'train:2', 'train:10', 'test:0', 'test:2', 'test:10', 'train')), {
      rule: 'integer-labels',
      classToIndex: { 0: 0, 2: 2, 10: 10 },
      numClasses: 11,
    });
  });

  it('class names are numbered in sorted order, as torchvision ImageFolder numbers its folders', () => {
    const classes = targetClasses(targets('train:sandal', 'train:bag', 'train:T-shirt', 'train:bag', 'test:bag', 'test:sandal', 'test:T-shirt'));
    assert.deepEqual(classes, { rule: 'sorted-names', classToIndex: { 'T-shirt': 0, bag: 1, sandal: 2 }, numClasses: 3 });
  });

  it('one non-integer label makes every label a name, sorted as text', () => {
    const classes = targetClasses(targets('train:10', 'train:9', 'train:other', 'test:10', 'test:9', 'test:other'));
    assert.deepEqual(classes, { rule: 'sorted-names', classToIndex: { 10: 0, 9: 1, other: 2 }, numClasses: 3 });
  });

  it('refuses what cannot train and measure a classifier, naming the setting', () => {
    assert.deepEqual(problems(targets('train', 'test:a')), [
      'target.train: no image has a class label: give one subfolder per class (folder), a "label" per line (manifest), or a .cls member or a json "label" per sample (webdataset)',
    ]);
    assert.match(problems(targets('train:a', 'test'))[0], /^target\.test: no image has a class label/);
    assert.deepEqual(problems(targets('train:a', 'train: ', 'test:a')), ['target.train: sample t/1 has an empty class label (an empty .cls member or "label")']);
    assert.deepEqual(problems(targets('train:a', 'train:a', 'test:a')), ['target.train: has images of one class only (a): a classifier needs at least 2']);
    assert.deepEqual(problems(targets('train:1', 'train:10', 'train:2', 'test:1', 'test:x', 'test:w')), [
      'target.test: has no image of class 2, 10, which target.train has: the test set cannot measure those classes',
      'target.test: has images of class w, x, which target.train has not: the model cannot learn them',
    ]);
  });

  it('with validationPerClass, refuses a class the validation split has no image of', () => {
    const twoClasses = ['train:a', 'train:b', 'test:a', 'test:b'];
    assert.deepEqual(problems(targets(...twoClasses, 'validation:a'), 5), [
      'target.validationPerClass: target.train has no image of class b after its first target.labelsPerClass: the validation split cannot measure those classes',
    ]);
    assert.match(problems(targets(...twoClasses), 5)[0], /class a, b after its first/);
    assert.deepEqual(targetClasses(targets(...twoClasses, 'validation:b', 'validation:a'), 5).classToIndex, { a: 0, b: 1 });
    assert.deepEqual(targetClasses(targets(...twoClasses)).classToIndex, { a: 0, b: 1 }, 'no validation split asked for, none needed');
  });
});
