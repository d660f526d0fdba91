import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowCode } from '../../../workers/workflow-bundle';

const dir = join(__dirname, 'histories');

/** One folder of histories per release (`histories/<version>/`): runs started by any release may still be in flight. */
const releases = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

describe('recorded histories of septPipeline and its children replay against the current workflow code', () => {
  it('keeps the histories of every release', () => {
    assert.ok(releases.includes('0.1.0'), `releases in ${dir}: ${releases.join(', ')}`);
  });
  for (const release of releases) {
    it(`replays every history recorded by release ${release} without a determinism error`, async () => {
      const files = readdirSync(join(dir, release)).filter((f) => f.endsWith('.json'));
      assert.ok(files.length >= 7, `recorded histories in ${join(dir, release)}: ${files.length}`);
      const histories = files.map((f) => ({
        workflowId: f.replace(/\.json$/, '').replace(/--/g, '/'),
        history: historyFromJSON(JSON.parse(readFileSync(join(dir, release, f), 'utf8'))),
      }));
      const replayed: string[] = [];
      for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowCode() }, histories)) {
        assert.equal(result.error, undefined, `${release} ${result.workflowId}: ${result.error?.message}`);
        replayed.push(result.workflowId);
      }
      assert.equal(replayed.length, files.length);
    });
  }
});
