// A setting whose work would exceed one of Temporal's limits or a worker's memory is refused at the
// run's start, naming the setting and the limit (lib/config/work-limits.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { resolveRunConfig } from '../../../activities/run-config';
import { parseRunConfig } from '../../../lib/config/validate';
import {
  MAX_SEARCHES_PER_EXECUTION,
  MAX_SHARDS_PER_EXECUTION,
  MAX_WINDOW,
  payloadIssue,
  SELECTED_SAMPLE_BYTES,
  selectionMemoryIssue,
  TEMPORAL_LIMITS,
} from '../../../lib/config/work-limits';

/** The configuration's refusal, or '' when it passes. */
function refusal(input: object): string {
  try {
    parseRunConfig({ demo: true, ...input });
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('the work limits', () => {
  it("keep one execution's fan-out under Temporal's history limit, with room for the rest of the execution", () => {
    assert.ok(MAX_SHARDS_PER_EXECUTION * 12 < TEMPORAL_LIMITS.historyEvents);
    assert.ok(MAX_SEARCHES_PER_EXECUTION * 6 < TEMPORAL_LIMITS.historyEvents);
    assert.equal(MAX_WINDOW, 2_000);
  });

  const settings: { field: string; input: (n: number) => object; max: number; limit: RegExp }[] = [
    { field: 'embed.shardsPerExecution', input: (n) => ({ embed: { shardsPerExecution: n } }), max: MAX_SHARDS_PER_EXECUTION, limit: /Temporal's 51,200 events \(limit\.historyCount\.error\)/ },
    { field: 'retrieval.searchesPerExecution', input: (n) => ({ retrieval: { searchesPerExecution: n } }), max: MAX_SEARCHES_PER_EXECUTION, limit: /Temporal's 51,200 events/ },
    { field: 'embed.window', input: (n) => ({ embed: { window: n } }), max: MAX_WINDOW, limit: /2,000 activities pending \(limit\.numPendingActivities\.error\)/ },
    { field: 'retrieval.window', input: (n) => ({ retrieval: { window: n } }), max: MAX_WINDOW, limit: /2,000 activities pending/ },
  ];
  for (const s of settings) {
    it(`refuse ${s.field} past ${s.max}, naming the setting and the limit`, () => {
      assert.equal(refusal(s.input(s.max)), '');
      const message = refusal(s.input(s.max + 1));
      assert.match(message, new RegExp(`${s.field.replace('.', '\\.')}: at most ${s.max.toLocaleString('en-US')}: `));
      assert.match(message, s.limit);
    });
  }

  it('refuse a payload over half of Temporal\'s 2 MB, naming the setting that sizes it', () => {
    assert.equal(payloadIssue('embed.shardsPerExecution', 'a page of 200 shards', 1024 * 1024), undefined);
    assert.equal(
      payloadIssue('embed.shardsPerExecution', 'a page of 200 shards', 1024 * 1024 + 1),
      "embed.shardsPerExecution: a page of 200 shards is 1,048,577 bytes, more than the 1,048,576 one payload may carry here (half of Temporal's 2 MB, limit.blobSize.error); lower embed.shardsPerExecution",
    );
  });

  describe("refuse a selection larger than half of a worker's heap", () => {
    const heap = 4 * 2 ** 30;
    const fits = Math.floor(heap / 2 / SELECTED_SAMPLE_BYTES);
    const budget = { policy: 'budget', budget: fits, k: 200 } as const;
    const topk = { policy: 'topk-per-target', budget: 8000, k: 200 } as const;

    it('by its budget', () => {
      assert.equal(selectionMemoryIssue(budget, heap), undefined);
      assert.match(
        selectionMemoryIssue({ ...budget, budget: fits + 1 }, heap) ?? '',
        /^retrieval\.budget: a selection of up to 2,097,153 images needs about 2,049 MiB of worker memory \(1024 bytes each\), more than the 2,048 MiB it may take \(half of this worker's 4,096 MiB heap\); lower retrieval\.budget/,
      );
      assert.equal(selectionMemoryIssue({ ...budget, budget: fits + 1 }, heap, { poolRows: fits }), undefined, 'a pool smaller than the budget caps it');
    });

    it('by its targets times k for topk-per-target, once the target is counted', () => {
      assert.equal(selectionMemoryIssue(topk, heap), undefined, 'not known before the target is listed');
      assert.equal(selectionMemoryIssue(topk, heap, { trainTargets: Math.floor(fits / 200) }), undefined);
      assert.match(selectionMemoryIssue(topk, heap, { trainTargets: Math.floor(fits / 200) + 1 }) ?? '', /^retrieval\.k: a selection of up to 2,097,200 images needs about /);
    });

    it('at the start of every workflow, in the resolveRunConfig activity, not retryable', async () => {
      await assert.rejects(resolveRunConfig({ demo: true, retrieval: { budget: 1e12 } }, 'septPipeline'), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.type, 'InvalidRunConfig');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /^invalid run configuration: retrieval\.budget: a selection of up to 1,000,000,000,000 images needs about .* of this worker's .* heap/);
        return true;
      });
    });
  });
});
