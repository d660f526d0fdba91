import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunConfigInput } from '../../../../lib/config/schema';
import { parseRunConfig } from '../../../../lib/config/validate';
import { refusal } from '../../../support/config-refusal';
import { referenceTrainerCommand } from '../../../../lib/trainer/command';
import { dataParallelCommand, trainerProcesses, visibleGpus } from '../../../../lib/trainer/data-parallel';

const run = (trainer: RunConfigInput['trainer'], batchSize = 256) => parseRunConfig({ demo: true, pretrain: { batchSize }, trainer });
const gpus = (count: number) => () => count;


describe('trainer.processesPerNode', () => {
  it('is 1 by default, a positive count or auto, and nothing else', () => {
    assert.equal(parseRunConfig({ demo: true }).trainer.processesPerNode, 1);
    assert.equal(run({ processesPerNode: 4 }).trainer.processesPerNode, 4);
    assert.equal(run({ processesPerNode: 'auto' }).trainer.processesPerNode, 'auto');
    for (const bad of [0, -2, 1.5, 'all', '2']) {
      assert.match(refusal(() => run({ processesPerNode: bad as never }))[0], /^trainer\.processesPerNode: /, String(bad));
    }
  });

  it('runs pre-training in that many processes and every other stage in one', () => {
    const config = run({ processesPerNode: 2 });
    assert.equal(trainerProcesses(config, 'pretrain', gpus(0)), 2);
    for (const stage of ['finetune', 'evaluate', 'export'] as const) assert.equal(trainerProcesses(config, stage, gpus(0)), 1);
    // A configuration resolved before the setting existed.
    assert.equal(trainerProcesses({ ...config, trainer: { ...config.trainer, processesPerNode: undefined } } as never, 'pretrain', gpus(8)), 1);
  });

  it('gives auto one process per GPU the worker sees, and one without GPUs or on the CPU', () => {
    assert.equal(trainerProcesses(run({ processesPerNode: 'auto' }), 'pretrain', gpus(8)), 8);
    assert.equal(trainerProcesses(run({ processesPerNode: 'auto' }), 'pretrain', gpus(0)), 1);
    assert.equal(trainerProcesses(run({ processesPerNode: 'auto', device: 'cpu' }), 'pretrain', gpus(8)), 1);
  });

  it('trains on the CPU in as many processes as asked where no GPU is used (gloo)', () => {
    assert.equal(trainerProcesses(run({ processesPerNode: 4 }), 'pretrain', gpus(0)), 4);
    assert.equal(trainerProcesses(run({ processesPerNode: 4, device: 'cpu' }), 'pretrain', gpus(2)), 4);
  });

  it('refuses more processes than GPUs, naming the field, before any process starts', () => {
    assert.deepEqual(refusal(() => trainerProcesses(run({ processesPerNode: 4 }), 'pretrain', gpus(2))), [
      'trainer.processesPerNode: 4 processes, one per GPU, but this sept-gpu worker sees 2 GPUs; ask for at most 2, or auto',
    ]);
    assert.deepEqual(refusal(() => trainerProcesses(run({ processesPerNode: 2, device: 'cuda' }), 'pretrain', gpus(0))), [
      'trainer.processesPerNode: 2 processes, one per GPU, but this sept-gpu worker sees no GPU',
    ]);
  });

  it('refuses a batch that does not divide over the processes, naming pretrain.batchSize: a count at the run\'s start, auto at the worker', () => {
    assert.deepEqual(refusal(() => run({ processesPerNode: 3 }, 256)), [
      'pretrain.batchSize: 256 images do not divide over the 3 processes of trainer.processesPerNode; use a multiple of 3',
    ]);
    assert.match(refusal(() => trainerProcesses(run({ processesPerNode: 'auto' }, 100), 'pretrain', gpus(8)))[0], /^pretrain\.batchSize: 100 images do not divide over the 8 processes/);
    assert.equal(trainerProcesses(run({ processesPerNode: 3 }, 255), 'pretrain', gpus(0)), 3);
  });
});

describe('the command of a data-parallel trainer', () => {
  it('is the trainer itself for one process', () => {
    const trainer = referenceTrainerCommand();
    assert.equal(dataParallelCommand(trainer, 1, 90), trainer);
  });

  it('runs the worker\'s trainer command in every rank under torchrun, from the reference trainer\'s Python', () => {
    const reference = referenceTrainerCommand();
    const python = reference.command[0];
    const launch = [python, '-m', 'septtrainer.launch', '--standalone', '--nproc-per-node=2', '--shutdown-timeout=90', '--no-python'];
    assert.deepEqual(dataParallelCommand(reference, 2, 90), { command: [...launch, ...reference.command], env: reference.env });
    const mine = { command: ['/opt/trainers/mine', '--fp16'], env: { WANDB_MODE: 'offline', PYTHONPATH: '/opt/lib' } };
    assert.deepEqual(dataParallelCommand(mine, 2, 90), {
      command: [...launch, '/opt/trainers/mine', '--fp16'],
      env: { ...reference.env, WANDB_MODE: 'offline', PYTHONPATH: `${reference.env.PYTHONPATH}:/opt/lib` },
    });
  });
});

describe('the GPUs a worker sees', () => {
  it('are those CUDA_VISIBLE_DEVICES lists, up to an invalid entry', () => {
    assert.equal(visibleGpus({ CUDA_VISIBLE_DEVICES: '0,1,2' }), 3);
    assert.equal(visibleGpus({ CUDA_VISIBLE_DEVICES: 'GPU-8f1c,GPU-77aa' }), 2);
    assert.equal(visibleGpus({ CUDA_VISIBLE_DEVICES: '' }), 0);
    assert.equal(visibleGpus({ CUDA_VISIBLE_DEVICES: '0,-1,2' }), 1);
  });
});
