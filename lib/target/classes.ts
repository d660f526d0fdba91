import { ConfigError } from '../config/validate';
import type { TargetInstance } from '../selection/target-set';

/**
 * The class indices the trainer learns, decided once per run from the target's train labels and
 * recorded beside its labeled sets (lib/run-layout.ts), so train and test share them. Integer labels
 * are their own indices (digits 0..9 stay 0..9, as runs always read them); otherwise the sorted
 * label names are numbered 0..n-1, as torchvision's ImageFolder numbers its class folders.
 */
export interface TargetClasses {
  rule: 'integer-labels' | 'sorted-names';
  /** Every train label's class index (torchvision's `class_to_idx`). */
  classToIndex: Record<string, number>;
  /** The trainer's class count: integer labels leave room for indices that no label uses. */
  numClasses: number;
}

const INTEGER_LABEL = /^\d+$/;

function classesOfLabels(labels: string[]): TargetClasses {
  // Code-unit order, as Python's sorted() orders ImageFolder's class names.
  const names = [...new Set(labels)].sort();
  if (names.every((l) => INTEGER_LABEL.test(l))) {
    const classToIndex = Object.fromEntries(names.map((l) => [l, Number(l)]));
    return { rule: 'integer-labels', classToIndex, numClasses: Math.max(...Object.values(classToIndex)) + 1 };
  }
  return { rule: 'sorted-names', classToIndex: Object.fromEntries(names.map((l, i) => [l, i])), numClasses: names.length };
}

const HOW_TO_LABEL = 'give one subfolder per class (folder), a "label" per line (manifest), or a .cls member or a json "label" per sample (webdataset)';

/**
 * The run's class indices from its target instances, or a ConfigError naming the setting whose
 * labels cannot train and measure a classifier: the first step and the labeled set's preparation
 * apply the same rules.
 */
export function targetClasses(targets: TargetInstance[], validationPerClass?: number): TargetClasses {
  const labeled = (split: TargetInstance['split']) => targets.filter((t) => t.split === split && t.label !== undefined) as Required<TargetInstance>[];
  const train = labeled('train');
  const test = labeled('test');
  const problems: string[] = [];
  for (const [setting, split] of [['target.train', train], ['target.test', test]] as const) {
    if (split.length === 0) problems.push(`${setting}: no image has a class label: ${HOW_TO_LABEL}`);
    const empty = split.find((t) => t.label.trim() === '');
    if (empty) problems.push(`${setting}: sample ${empty.id} has an empty class label (an empty .cls member or "label")`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const classes = classesOfLabels(train.map((t) => t.label));
  const names = Object.keys(classes.classToIndex);
  if (names.length < 2) problems.push(`target.train: has images of one class only (${names[0]}): a classifier needs at least 2`);
  const testNames = new Set(test.map((t) => t.label));
  const untested = names.filter((l) => !testNames.has(l)).sort((a, b) => classes.classToIndex[a] - classes.classToIndex[b]);
  if (untested.length > 0) problems.push(`target.test: has no image of class ${untested.join(', ')}, which target.train has: the test set cannot measure those classes`);
  const unlearned = [...testNames].filter((l) => classes.classToIndex[l] === undefined).sort();
  if (unlearned.length > 0) problems.push(`target.test: has images of class ${unlearned.join(', ')}, which target.train has not: the model cannot learn them`);
  if (validationPerClass !== undefined) {
    const validated = new Set(labeled('validation').map((t) => t.label));
    const unvalidated = names.filter((l) => !validated.has(l)).sort((a, b) => classes.classToIndex[a] - classes.classToIndex[b]);
    if (unvalidated.length > 0) problems.push(`target.validationPerClass: target.train has no image of class ${unvalidated.join(', ')} after its first target.labelsPerClass: the validation split cannot measure those classes`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return classes;
}
