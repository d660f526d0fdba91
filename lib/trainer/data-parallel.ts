import { spawnSync } from 'node:child_process';
import { msToNumber } from '@temporalio/common/lib/time';
import { batchShareIssue, type RunConfig } from '../config/schema';
import { ConfigError } from '../config/validate';
import { referenceTrainerCommand, type TrainerCommand } from './command';
import { type GangPlace, rendezvousArgs } from './gang';
import { nodeAddress } from './gang-node';
import type { TrainerStage } from './protocol';

/**
 * Data-parallel pre-training on one node: `trainer.processesPerNode` trainer processes, started and
 * watched by torchrun (PyTorch's launcher) from the reference trainer's Python, each training a
 * DistributedDataParallel replica on its share of every batch (trainer/PROTOCOL.md, Data-parallel
 * training). The run asks for a count; the worker decides what runs: its own trainer command, the
 * same for every rank. Other stages gain nothing from more processes and run as one.
 */

/** GPUs a trainer on this worker sees: CUDA_VISIBLE_DEVICES's list where set (CUDA stops at an invalid entry), else nvidia-smi's. */
export function visibleGpus(env: NodeJS.ProcessEnv = process.env): number {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const ids = visible.split(',').map((id) => id.trim());
    const invalid = ids.findIndex((id) => id === '' || id.startsWith('-'));
    return invalid === -1 ? ids.length : invalid;
  }
  const listed = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  return listed.status === 0 ? listed.stdout.split('\n').filter((line) => line.startsWith('GPU ')).length : 0;
}

let machineGpus: number | undefined;
/** visibleGpus of this worker process, asked once: its GPUs do not change while it runs. */
const workerGpus = () => (machineGpus ??= visibleGpus());

/**
 * The trainer processes of a job on this worker. A count the worker cannot give or a batch that
 * does not divide over it is the run's error, not retryable, found before any process starts.
 */
export function trainerProcesses(config: RunConfig, stage: TrainerStage, gpus: () => number = workerGpus): number {
  // A configuration resolved by an earlier release (a run still in flight) has no processesPerNode.
  const asked = (config.trainer as { processesPerNode?: number | 'auto' }).processesPerNode ?? 1;
  if (stage !== 'pretrain' || asked === 1) return 1;
  const { device } = config.trainer;
  const devices = device === 'cpu' ? 0 : gpus();
  if (asked !== 'auto' && (device === 'cuda' || devices > 0) && asked > devices) {
    const seen = devices === 0 ? 'no GPU' : `${devices} GPU${devices === 1 ? '' : 's'}; ask for at most ${devices}, or auto`;
    throw new ConfigError([`trainer.processesPerNode: ${asked} processes, one per GPU, but this sept-gpu worker sees ${seen}`]);
  }
  const processes = asked === 'auto' ? Math.max(1, devices) : asked;
  // A count given as a number is checked at the run's start (the schema); `auto` only here.
  const undivided = batchShareIssue(config.pretrain.batchSize, processes, (config.trainer as { nodes?: number }).nodes);
  if (undivided) throw new ConfigError([`pretrain.batchSize: ${undivided}`]);
  return processes;
}

/** A node of a gang (lib/trainer/gang.ts) as its torchrun meets the others. */
export interface GangLaunch {
  place: GangPlace;
  /** This node's own address (SEPT_NODE_ADDRESS). */
  localAddress: string;
  /** How long node 0's store waits for the other nodes: trainer.rendezvousTimeout. */
  timeoutSeconds: number;
}

/**
 * How this worker's trainer joins the gang round at `place`; undefined outside a gang. Only
 * pre-training trains on several nodes (the gang workflow asks for nothing else).
 */
export function gangLaunch(config: RunConfig, stage: TrainerStage, place: GangPlace | undefined, localAddress = nodeAddress()): GangLaunch | undefined {
  if (!place) return undefined;
  if (stage !== 'pretrain') throw new ConfigError([`trainer.nodes: only pre-training trains on several nodes; ${stage} runs on one`]);
  // Retried: the gang claims nodes only among workers that serve a queue of their own.
  if (!localAddress) throw new Error('this sept-gpu worker serves no task queue of its own, so it cannot be a node of a gang');
  return { place, localAddress, timeoutSeconds: msToNumber(config.trainer.rendezvousTimeout) / 1000 };
}

/**
 * `trainer` as run by torchrun in `processes` ranks (on each node of `gang`, when it has one). torchrun is run through septtrainer.launch, which
 * keeps the protocol's exit codes (torchrun's own is 1 for every failure). It passes a stop on to
 * every rank and kills the ranks still running after `shutdownSeconds`: less than the worker's own
 * grace, since ranks run in sessions of their own and would outlive a killed launcher.
 */
export function dataParallelCommand(trainer: TrainerCommand, processes: number, shutdownSeconds: number, gang?: GangLaunch): TrainerCommand {
  if (processes === 1 && !gang) return trainer;
  const launcher = referenceTrainerCommand();
  const pythonPath = [...new Set([launcher.env.PYTHONPATH, trainer.env.PYTHONPATH].filter(Boolean))].join(':');
  return {
    command: [
      launcher.command[0],
      '-m',
      'septtrainer.launch',
      ...(gang ? rendezvousArgs(gang.place, gang.localAddress, gang.timeoutSeconds) : ['--standalone']),
      `--nproc-per-node=${processes}`,
      `--shutdown-timeout=${shutdownSeconds}`,
      '--no-python',
      ...trainer.command,
    ],
    env: { ...launcher.env, ...trainer.env, PYTHONPATH: pythonPath },
  };
}
