import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { resolveRunConfig } from '../../../../activities/run-config';
import { ConfigError } from '../../../../lib/config/validate';
import { checkWorkflowArguments } from '../../../../lib/temporal/workflow-args';

const HISTORIES = join(__dirname, '../../../integration/replay/histories');

/** The arguments after the configuration of every recorded execution of `file` in each release. */
function recordedArguments(file: string): { release: string; args: unknown[] }[] {
  return readdirSync(HISTORIES).map((release) => {
    const history = JSON.parse(readFileSync(join(HISTORIES, release, file), 'utf8')) as {
      events: { workflowExecutionStartedEventAttributes?: { input?: { payloads?: { data: string }[] } } }[];
    };
    const payloads = history.events[0].workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    return { release, args: payloads.slice(1).map((p) => JSON.parse(Buffer.from(p.data, 'base64').toString()) as unknown) };
  });
}

/** The issues of a refusal, or [] when the arguments pass. */
function issues(workflow: string, args: unknown[]): string[] {
  try {
    checkWorkflowArguments(workflow, args);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /^invalid workflow arguments: /);
    return err.issues;
  }
}

describe('workflow arguments after the run configuration', () => {
  it('accepts what the workflows and the CLI pass, absent arguments, and every recorded carry and option', () => {
    assert.deepEqual(issues('trainModel', [undefined]), []);
    assert.deepEqual(issues('trainModel', [{}]), []);
    assert.deepEqual(issues('trainModel', [{ variant: 'random-s3', pretrainData: [{ kind: 'webdataset', shards: 'data/subset-{000..009}.tar' }], skipPretrain: false }]), []);
    assert.deepEqual(issues('septExperiment', [{ seeds: [0, 1, 2], arms: ['sept', 'pool'] }]), []);
    assert.deepEqual(issues('census', []), []);
    assert.deepEqual(issues('embedPool', [undefined]), []);
    for (const [file, workflow] of [
      ['replay--embed.json', 'embedPool'],
      ['replay--select--embed-target.json', 'embedPool'],
      ['replay--pretrain.json', 'trainModel'],
      ['replay--finetune.json', 'trainModel'],
    ] as const) {
      for (const { release, args } of recordedArguments(file)) {
        assert.equal(args.length, 1, `${release} ${file}`);
        assert.deepEqual(issues(workflow, args), [], `${release} ${file}`);
      }
    }
  });

  it('refuses bad options, naming the workflow, the argument and the field', () => {
    assert.deepEqual(issues('trainModel', [null]), ['trainModel argument 2 (options): Invalid input: expected object, received null']);
    assert.deepEqual(issues('trainModel', [{ variant: '../../etc', window: 3 }]), [
      'trainModel argument 2 (options).variant: a folder name: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 100',
      'trainModel argument 2 (options).window: unknown field',
    ]);
    assert.match(issues('trainModel', [{ pretrainData: [{ kind: 'tarball', shards: 'x' }] }])[0], /^trainModel argument 2 \(options\)\.pretrainData\[0\]\.kind: /);
    assert.deepEqual(issues('septExperiment', [{ seeds: [1, 1], arms: ['sept', 'imagenet'] }]), [
      'septExperiment argument 2 (options).seeds: each seed once',
      'septExperiment argument 2 (options).arms[1]: Invalid option: expected one of "none"|"random"|"sept"|"diverse"|"cluster"|"dedup"|"pool"',
    ]);
    assert.match(issues('septExperiment', [{ seeds: Array.from({ length: 21 }, (_, i) => i) }])[0], /^septExperiment argument 2 \(options\)\.seeds: Too big/);
  });

  it('refuses a carry that is not one, and arguments a workflow does not take', () => {
    const [{ args }] = recordedArguments('replay--embed.json');
    const carry = args[0] as { plan: { total: unknown }; next: number };
    assert.deepEqual(issues('embedPool', [{ ...carry, plan: { ...carry.plan, total: '5' } }]), ['embedPool argument 2 (carry).plan.total: Invalid input: expected number, received string']);
    assert.deepEqual(issues('embedPool', [{ ...carry, next: 99 }]), ['embedPool argument 2 (carry).next: next is past the end of the plan']);
    const select = { plan: { run: 'r', store: '/store', encoderId: 'e', workDir: '/out/r/selection', chunks: 2, partitions: 3, path: 'exact', dim: 8 }, next: 4 };
    assert.deepEqual(issues('selectSubset', [select]), []);
    assert.deepEqual(issues('selectSubset', [{ ...select, next: 7 }]), ['selectSubset argument 2 (carry).next: next is past the last search']);
    assert.deepEqual(issues('selectSubset', [{ ...select, phase: 'merge', next: 2 }]), []);
    assert.deepEqual(issues('selectSubset', [{ ...select, phase: 'merge', next: 3 }]), ['selectSubset argument 2 (carry).next: next is past the last target chunk to merge']);
    assert.match(issues('selectSubset', [{ ...select, plan: { ...select.plan, run: '../r' } }])[0], /^selectSubset argument 2 \(carry\)\.plan\.run: lowercase letters/);
    assert.deepEqual(issues('census', [{ seeds: [1] }]), ['census argument 2: unexpected, census takes 1 argument']);
    assert.deepEqual(issues('trainModel', [{}, 'more']), ['trainModel argument 3: unexpected, trainModel takes 2 arguments']);
  });

  it('the resolveRunConfig activity refuses them at once, not retryable, before the configuration', async () => {
    await assert.rejects(resolveRunConfig({ demo: true, retrieval: { bugdet: 3 } }, 'trainModel', { variant: '.hidden' }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'InvalidRunConfig');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /^invalid workflow arguments: trainModel argument 2 \(options\)\.variant: /);
      return true;
    });
    // A workflow of an earlier release sends the configuration alone.
    assert.equal((await resolveRunConfig({ demo: true, name: 'old-shape' })).name, 'old-shape');
  });
});
