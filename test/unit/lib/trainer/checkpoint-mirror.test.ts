import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s3ClientConfigFromEnv } from '../../../../lib/object-store';
import { RunLayout } from '../../../../lib/run-layout';
import { checkpointKeys, checkpointsToPrune } from '../../../../lib/trainer/checkpoint-mirror';
import { overrideEnv } from '../../../support/env';

const dir = 'run/train/main/pretrain/checkpoints';

describe('checkpoint mirror layout and pruning', () => {
  const setEnv = overrideEnv();

  it('keys files by their path under the output folder, wherever that folder is', () => {
    setEnv({ SEPT_DATA_DIR: '/data' });
    const mirrorKey = (outputDir: string, run: string, path: string) => new RunLayout(outputDir, run).keyOf(path);
    assert.equal(mirrorKey('/data/a/runs', 'run', '/data/a/runs/run/train/main/pretrain/checkpoints/checkpoint-00000005.pt'), `${dir}/checkpoint-00000005.pt`);
    // Written on a machine with another data dir: recognized by the run's layout.
    assert.equal(mirrorKey('/data/b/runs', 'run', '/data/a/runs/run/train/main/pretrain/checkpoints/checkpoint-00000005.pt'), `${dir}/checkpoint-00000005.pt`);
    assert.equal(mirrorKey('/data/b/runs', 'run', '/data/a/runs/other/train/main/pretrain/metrics.json'), undefined);
    assert.equal(mirrorKey('/data/b/runs', 'run', '/elsewhere/weights.pt'), undefined);
    assert.equal(new RunLayout('/data/b/runs', 'run').fileOf(`${dir}/checkpoint-00000005.pt`), `/data/b/runs/${dir}/checkpoint-00000005.pt`, 'the same key on this machine');
  });

  it('orders checkpoints by step and prunes all but the newest `keep`', () => {
    const keys = [`${dir}/checkpoint-00000010.pt`, `${dir}/checkpoint-00000005.pt`, `${dir}/notes.txt`, `${dir}/checkpoint-00000100.pt`, `${dir}/checkpoint-00000015.pt`];
    assert.deepEqual(
      checkpointKeys(keys).map((c) => c.step),
      [5, 10, 15, 100],
    );
    assert.deepEqual(checkpointsToPrune(keys, 3), [`${dir}/checkpoint-00000005.pt`]);
    assert.deepEqual(checkpointsToPrune(keys, 1), [5, 10, 15].map((s) => `${dir}/checkpoint-${String(s).padStart(8, '0')}.pt`));
    assert.deepEqual(checkpointsToPrune(keys.slice(0, 2), 3), []);
  });

  it('reads the S3 client settings from the standard AWS variables', () => {
    const custom = s3ClientConfigFromEnv({ AWS_ENDPOINT_URL_S3: 'http://minio:9000', AWS_ENDPOINT_URL: 'http://other:1', AWS_REGION: 'eu-west-1' });
    assert.equal(custom.endpoint, 'http://minio:9000');
    assert.equal(custom.forcePathStyle, true);
    assert.equal(custom.region, 'eu-west-1');
    assert.equal(s3ClientConfigFromEnv({ AWS_ENDPOINT: 'http://moto:5000' }).endpoint, 'http://moto:5000');
    assert.equal(s3ClientConfigFromEnv({ AWS_ENDPOINT: 'https://s3.example.com', AWS_VIRTUAL_HOSTED_STYLE_REQUEST: 'true' }).forcePathStyle, false);
    const aws = s3ClientConfigFromEnv({ AWS_DEFAULT_REGION: 'us-west-2' });
    assert.equal(aws.endpoint, undefined);
    assert.equal(aws.forcePathStyle, undefined);
    assert.equal(aws.region, 'us-west-2');
    assert.equal(s3ClientConfigFromEnv({}).region, 'us-east-1');
  });
});
