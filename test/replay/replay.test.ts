import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';

const dir = join(__dirname, 'histories');

describe('recorded histories of septPipeline and its children replay against the current workflow code', () => {
  it('replays every recorded history without a determinism error', async () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 7, `recorded histories in ${dir}: ${files.length}`);
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, '').replace(/--/g, '/'), history: historyFromJSON(JSON.parse(readFileSync(join(dir, f), 'utf8'))) }));
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
      replayed.push(result.workflowId);
    }
    assert.equal(replayed.length, files.length);
  });
});
