import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainerEnvironment } from '../../../../lib/trainer/environment';

describe('the environment of a trainer process', () => {
  const machine = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/sept',
    LANG: 'C.UTF-8',
    TMPDIR: '/scratch/tmp',
    CUDA_VISIBLE_DEVICES: '0,1',
    NCCL_SOCKET_IFNAME: 'eth0',
    GLOO_SOCKET_IFNAME: 'eth0',
    OMP_NUM_THREADS: '4',
  };
  const secrets = {
    TEMPORAL_API_KEY: 'secret',
    TEMPORAL_ADDRESS: 'cloud:7233',
    AWS_ACCESS_KEY_ID: 'AKIA',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: 'secret',
    SEPT_TRAINERS: '/etc/sept/trainers.json',
    SEPT_DATA_DIR: '/data',
    NODE_OPTIONS: '--require /opt/agent.js',
    GITHUB_TOKEN: 'secret',
  };
  const worker = { ...machine, ...secrets };

  it('inherits only the allowlisted variables: no Temporal, AWS or septflow settings, nothing else of the worker', () => {
    assert.deepEqual(trainerEnvironment({}, worker), { ...machine, SEPT_TRAINER_SUPERVISED: '1' });
  });

  it('adds the registry entry\'s variables, and the protocol\'s last', () => {
    const env = trainerEnvironment({ PYTHONPATH: '/opt/trainer', OMP_NUM_THREADS: '8', SEPT_TRAINER_SUPERVISED: '0' }, worker);
    assert.equal(env.PYTHONPATH, '/opt/trainer');
    assert.equal(env.OMP_NUM_THREADS, '8');
    assert.equal(env.SEPT_TRAINER_SUPERVISED, '1');
    assert.equal(env.AWS_SECRET_ACCESS_KEY, undefined);
  });
});
