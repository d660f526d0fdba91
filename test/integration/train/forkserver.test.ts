import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { demoShards } from '../../../lib/demo/materialize';
import { referenceTrainerCommand } from '../../../lib/trainer/command';
import { dataParallelCommand } from '../../../lib/trainer/data-parallel';
import { FORKSERVER_SOCKET_ENV, throughForkserver } from '../../../lib/trainer/forkserver';
import { runTrainerProcess } from '../../../lib/trainer/process';
import { tempDir } from '../../support/tmp';

const FORKED = /forkserver: the job runs as its process \d+/;

async function pretrainConfig(name: string, steps: number): Promise<string> {
  const dir = tempDir();
  const file = join(dir, `${name}.json`);
  const shards = (await demoShards('mnist', 'train')).slice(0, 1);
  writeFileSync(file, JSON.stringify({ threads: 1, train_shards: shards, batch_size: 32, output_dir: join(dir, name), max_steps: steps, checkpoint_every_steps: 2, log_every_steps: 1 }));
  return file;
}

describe("the reference trainer's forkserver", () => {
  it('runs a job forked from a process that imported torch once, and passes a stop on to it', async () => {
    // The first job waits for the starting forkserver, rather than import torch beside it.
    const trainer = await throughForkserver(referenceTrainerCommand());
    const socket = trainer.env[FORKSERVER_SOCKET_ENV];
    assert.ok(socket && existsSync(socket), 'a job of the reference trainer is told where the forkserver listens');

    const stderr: string[] = [];
    const done = await runTrainerProcess({ ...trainer, stage: 'pretrain', configFile: await pretrainConfig('done', 3), onStderr: (line) => stderr.push(line) });
    assert.equal(done.exitCode, 0, stderr.join('\n'));
    assert.match(stderr.join('\n'), FORKED);
    assert.equal(done.lastCheckpoint?.step, 3);
    assert.deepEqual(done.artifacts.map((a) => a.kind), ['pretrained_checkpoint']);

    // The worker's cancel path: SIGTERM to the job's process reaches the forked job, which checkpoints.
    const stop = new AbortController();
    const stopped = await runTrainerProcess({
      ...trainer,
      stage: 'pretrain',
      configFile: await pretrainConfig('stopped', 10_000),
      signal: stop.signal,
      onEvent: (event) => event.event === 'progress' && stop.abort(),
      onStderr: (line) => stderr.push(line),
    });
    assert.equal(stopped.exitCode, 143, stderr.join('\n'));
    assert.ok(stopped.stopped && stopped.lastCheckpoint, 'stopped with a checkpoint');
  });

  it("leaves registered trainers and torchrun's ranks to start on their own", async () => {
    const registered = { command: ['/opt/trainers/mine'], env: { WANDB_MODE: 'offline' } };
    assert.equal(await throughForkserver(registered), registered);
    const ranks = dataParallelCommand(referenceTrainerCommand(), 2, 20);
    assert.equal(await throughForkserver(ranks), ranks);
  });
});
