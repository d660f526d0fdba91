import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseRunConfig } from '../../../../lib/config/validate';
import { referenceTrainerCommand, trainerCommand, TrainerRegistry, workerTrainers } from '../../../../lib/trainer/command';
import { tempDir } from '../../../support/tmp';

/** A registry file holding `content` (a string is written as it is). */
function registryFile(content: unknown): string {
  const file = join(tempDir(), 'trainers.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const MINE = { command: ['/opt/trainers/mine', '--fp16'], env: { WANDB_MODE: 'offline' } };

describe('the trainers a GPU worker runs by name (SEPT_TRAINERS)', () => {
  it('has the reference trainer built in, with no file and beside a file\'s trainers', () => {
    assert.deepEqual(TrainerRegistry.load(undefined).names, ['reference']);
    assert.deepEqual(TrainerRegistry.load(undefined).command('reference'), referenceTrainerCommand());
    const registry = TrainerRegistry.load(registryFile({ zeta: { command: ['/z'] }, mine: MINE }));
    assert.deepEqual(registry.names, ['reference', 'mine', 'zeta']);
    assert.deepEqual(registry.command('reference'), referenceTrainerCommand());
    assert.deepEqual(registry.command('mine'), MINE);
    assert.deepEqual(registry.command('zeta'), { command: ['/z'], env: {} });
  });

  it('runs what the run names: the reference trainer by default, a registered one by trainer.name', () => {
    const registry = TrainerRegistry.load(registryFile({ mine: MINE }));
    assert.deepEqual(trainerCommand(parseRunConfig({ demo: true }), registry), referenceTrainerCommand());
    assert.deepEqual(trainerCommand(parseRunConfig({ demo: true, trainer: { name: 'mine' } }), registry), MINE);
  });

  it('refuses a name the worker lacks, naming trainer.name and the names it has', () => {
    const registry = TrainerRegistry.load(registryFile({ mine: MINE }));
    const config = parseRunConfig({ demo: true, trainer: { name: 'theirs' } });
    assert.throws(
      () => trainerCommand(config, registry),
      (err: unknown) => err instanceof ConfigError && /^trainer\.name: "theirs" .*: reference, mine /.test(err.issues[0]),
    );
  });

  it('refuses a configuration of an earlier release that names a command, and takes one that names no trainer as the reference', () => {
    const registry = TrainerRegistry.load(undefined);
    const resolved = parseRunConfig({ demo: true });
    const legacy = { ...resolved, trainer: { ...resolved.trainer, name: undefined, command: ['/bin/sh', '-c', 'id'] } };
    assert.throws(() => trainerCommand(legacy as never, registry), (err: unknown) => err instanceof ConfigError && /^trainer\.command: .*SEPT_TRAINERS/.test(err.issues[0]));
    const unnamed = { ...resolved, trainer: { ...resolved.trainer, name: undefined } };
    assert.deepEqual(trainerCommand(unnamed as never, registry), referenceTrainerCommand());
  });

  it('fails on a bad file, naming the file and the entry', () => {
    const cases: [unknown, RegExp][] = [
      ['{"mine": ', /not valid JSON/],
      [['/bin/true'], /\(root\)/],
      [{ mine: { command: [] } }, /mine\.command: /],
      [{ mine: { command: '/opt/mine' } }, /mine\.command: /],
      [{ mine: { command: ['/opt/mine'], args: ['x'] } }, /mine\.args: unknown field/],
      [{ mine: { command: ['/opt/mine'], env: { 'NOT A NAME': 'x' } } }, /mine\.env/],
      [{ Mine: MINE }, /Mine/],
      [{ reference: MINE }, /reference: the built-in reference trainer cannot be redefined/],
    ];
    for (const [content, problem] of cases) {
      const file = registryFile(content);
      assert.throws(
        () => TrainerRegistry.load(file),
        (err: unknown) => err instanceof Error && err.message.startsWith(`invalid trainer registry ${file} (SEPT_TRAINERS): `) && problem.test(err.message),
        JSON.stringify(content),
      );
    }
    assert.throws(() => TrainerRegistry.load('/nonexistent/trainers.json'), /invalid trainer registry \/nonexistent\/trainers\.json \(SEPT_TRAINERS\): cannot read it/);
  });

  it('is the worker\'s SEPT_TRAINERS file, read once per process', () => {
    const file = registryFile({ mine: MINE });
    const registry = workerTrainers({ SEPT_TRAINERS: file });
    assert.deepEqual(registry.names, ['reference', 'mine']);
    writeFileSync(file, 'no longer JSON');
    assert.equal(workerTrainers({ SEPT_TRAINERS: file }), registry);
    assert.deepEqual(workerTrainers({}).names, ['reference']);
  });
});
