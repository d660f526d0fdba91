import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunConfigInput } from '../../../../lib/config/schema';
import { ConfigError, parseRunConfig } from '../../../../lib/config/validate';
import { refusal } from '../../../support/config-refusal';
import { referenceTrainerCommand } from '../../../../lib/trainer/command';
import { dataParallelCommand, gangLaunch, trainerProcesses } from '../../../../lib/trainer/data-parallel';
import { type GangNode, gangPlaces, nodesUnanswered, rendezvousArgs, withClaim } from '../../../../lib/trainer/gang';

const run = (trainer: RunConfigInput['trainer'], batchSize = 256) => parseRunConfig({ demo: true, pretrain: { batchSize }, trainer });
const node = (name: string, address = '10.0.0.1', port = 29400): GangNode => ({ queue: `sept-gpu/${name}`, address, port });


describe('trainer.nodes', () => {
  it('is 1 unless asked, with a ten-minute rendezvous timeout; fewer than one node is refused, naming the field', () => {
    assert.equal(parseRunConfig({ demo: true }).trainer.nodes, 1);
    assert.equal(parseRunConfig({ demo: true }).trainer.rendezvousTimeout, '10m');
    assert.equal(run({ nodes: 4, rendezvousTimeout: '2m' }).trainer.nodes, 4);
    for (const bad of [0, -1, 1.5, '2']) assert.match(refusal(() => run({ nodes: bad as never }))[0], /^trainer\.nodes: /, String(bad));
    assert.match(refusal(() => run({ nodes: 2, rendezvousTimeout: 'soon' }))[0], /^trainer\.rendezvousTimeout: /);
  });

  it('divides the global batch over nodes × processesPerNode, refusing one that does not divide at the run\'s start', () => {
    assert.equal(trainerProcesses(run({ nodes: 2, processesPerNode: 2 }, 32), 'pretrain', () => 0), 2);
    assert.deepEqual(refusal(() => run({ nodes: 2, processesPerNode: 2 }, 30)), [
      'pretrain.batchSize: 30 images do not divide over the 4 processes of trainer.nodes × trainer.processesPerNode (2 × 2); use a multiple of 4',
    ]);
    assert.match(refusal(() => run({ nodes: 3 }, 32))[0], /^pretrain\.batchSize: 32 images do not divide over the 3 processes of trainer\.nodes × trainer\.processesPerNode \(3 × 1\)/);
    // auto is resolved on the worker: there the same rule holds.
    assert.match(refusal(() => trainerProcesses(run({ nodes: 3, processesPerNode: 'auto' }, 102), 'pretrain', () => 8))[0], /^pretrain\.batchSize: 102 images do not divide over the 24 processes/);
  });
});

describe('claiming a gang\'s nodes', () => {
  it('holds each worker once, however many claims it answers', () => {
    let held = withClaim([], node('a'));
    held = withClaim(held, { ...node('a'), port: 30000 });
    assert.deepEqual(held, [node('a')]);
    held = withClaim(held, node('b', '10.0.0.2'));
    assert.deepEqual(held.map((n) => n.queue), ['sept-gpu/a', 'sept-gpu/b']);
  });

  it('says how many workers answered of how many asked for, naming the field', () => {
    assert.equal(
      nodesUnanswered(2, 1, '10m'),
      'trainer.nodes: 2 sept-gpu workers asked for, 1 answered within trainer.rendezvousTimeout (10m); start more sept-gpu workers or lower trainer.nodes',
    );
  });
});

describe('a gang round\'s rendezvous', () => {
  it('meets at node 0\'s address and port, each node at its rank, under an id of the gang and round', () => {
    const places = gangPlaces([node('a', '10.0.0.1', 29555), node('b', '10.0.0.2', 31000)], 'run/pretrain-gang', 2);
    assert.deepEqual(places, [
      { endpoint: '10.0.0.1:29555', nodes: 2, rank: 0, id: 'run_pretrain-gang-round-2' },
      { endpoint: '10.0.0.1:29555', nodes: 2, rank: 1, id: 'run_pretrain-gang-round-2' },
    ]);
    assert.equal(gangPlaces([node('a', 'fd00::1', 1234)], 'g', 1)[0].endpoint, '[fd00::1]:1234');
    assert.throws(() => gangPlaces([], 'g', 1));
  });

  it('is torchrun\'s static rendezvous at that endpoint, the node reached at its own address', () => {
    const [, second] = gangPlaces([node('a', '127.0.0.1', 29555), node('b', '127.0.0.1')], 'g', 1);
    assert.deepEqual(rendezvousArgs(second, '127.0.0.1', 600), [
      '--rdzv-backend=static',
      '--rdzv-endpoint=127.0.0.1:29555',
      '--rdzv-id=g-round-1',
      '--rdzv-conf=timeout=600',
      '--nnodes=2',
      '--node-rank=1',
      '--local-addr=127.0.0.1',
    ]);
  });

  it('runs even one process per node under torchrun, in place of --standalone', () => {
    const reference = referenceTrainerCommand();
    const [place] = gangPlaces([node('a', '127.0.0.1', 29555), node('b')], 'g', 1);
    const { command } = dataParallelCommand(reference, 1, 90, { place, localAddress: '127.0.0.1', timeoutSeconds: 60 });
    assert.deepEqual(command.slice(1, 4), ['-m', 'septtrainer.launch', '--rdzv-backend=static']);
    assert.ok(!command.includes('--standalone'));
    assert.ok(command.includes('--nproc-per-node=1') && command.includes('--node-rank=0'));
    assert.deepEqual(command.slice(-reference.command.length), reference.command);
  });
});

describe('a node of a gang', () => {
  const [place] = gangPlaces([node('a'), node('b')], 'g', 1);
  const config = run({ nodes: 2, rendezvousTimeout: '90s' });

  it('launches with its own address and the rendezvous timeout', () => {
    assert.equal(gangLaunch(config, 'pretrain', undefined, '10.0.0.1'), undefined);
    assert.deepEqual(gangLaunch(config, 'pretrain', place, '10.0.0.1'), { place, localAddress: '10.0.0.1', timeoutSeconds: 90 });
  });

  it('pre-trains only: another stage asked of a gang is the run\'s error, naming trainer.nodes', () => {
    assert.deepEqual(refusal(() => gangLaunch(config, 'finetune', place, '10.0.0.1')), ['trainer.nodes: only pre-training trains on several nodes; finetune runs on one']);
  });

  it('is only a worker that serves a queue of its own (retried elsewhere, not the run\'s error)', () => {
    assert.throws(() => gangLaunch(config, 'pretrain', place, undefined), (err) => !(err instanceof ConfigError) && /serves no task queue of its own/.test(String(err)));
  });
});
