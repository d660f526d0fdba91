import { msToNumber } from '@temporalio/common/lib/time';
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, log, sleep, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { TrainerResult, TrainerTask } from '../activities/train';
import { type GangNode, gangPlaces, nodesUnanswered, withClaim } from '../lib/trainer/gang';
import { gangNode, nodeClaims } from './activity-options';

/**
 * One pre-training on trainer.nodes sept-gpu workers (docs/stages/train.md, Many nodes), as a child
 * of trainModel. Round after round: claim that many distinct workers on `sept-gpu`, agree the
 * rendezvous (node 0's address and a port it found free), run one trainer activity per node on that
 * node's own task queue; every node resumes from the job's newest checkpoint. A node that fails or
 * goes silent ends the round: the others are cancelled (rank 0 checkpoints as they stop) and the
 * next round claims whatever workers answer. trainer.maxAttempts rounds at most. The result is node
 * 0's, whose first process is global rank 0: the one that reports.
 */
export async function trainGang(task: TrainerTask): Promise<TrainerResult> {
  const { nodes, rendezvousTimeout, maxAttempts } = task.config.trainer;
  let failure: unknown;
  for (let round = 1; round <= maxAttempts; round++) {
    const held = await claimNodes(nodes, rendezvousTimeout);
    const places = gangPlaces(held, workflowInfo().workflowId, round);
    log.info('gang round starting', { round, endpoint: places[0].endpoint, queues: held.map((node) => node.queue) });
    const scope = new CancellationScope();
    const runs = held.map((node, rank) => scope.run(() => gangNode(task.config, node.queue).runTrainer({ ...task, gang: places[rank] })));
    try {
      const [leader] = await Promise.all(runs);
      return { ...leader, attempt: round };
    } catch (err) {
      // Every node stops (rank 0 after its checkpoint) before the next round claims nodes.
      scope.cancel();
      await Promise.allSettled(runs);
      if (isCancellation(err) || notRetryable(err)) throw err;
      failure = err;
      log.warn('gang round failed', { round, error: why(err) });
    }
  }
  throw ApplicationFailure.nonRetryable(`${task.job}: all ${maxAttempts} rounds of the gang of ${nodes} nodes failed (trainer.maxAttempts); the last: ${why(failure)}`, 'TrainerFailed');
}

/** What a node's failure says: its cause's message (an activity failure's own only names the activity). */
const why = (err: unknown) => {
  const { cause, message } = err as Error;
  return cause instanceof Error ? cause.message : message;
};

const notRetryable = (err: unknown) => err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable;

/** `nodes` distinct workers, claimed one at a time within `timeout`; a worker that answers twice is asked less often. */
async function claimNodes(nodes: number, timeout: string): Promise<GangNode[]> {
  const deadline = Date.now() + msToNumber(timeout);
  let held: GangNode[] = [];
  for (let repeats = 0; held.length < nodes; ) {
    const left = deadline - Date.now();
    if (left <= 0) throw ApplicationFailure.nonRetryable(nodesUnanswered(nodes, held.length, timeout), 'InvalidTrainerConfig');
    let claim: GangNode;
    try {
      claim = await nodeClaims(left).claimNode();
    } catch (err) {
      if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) throw ApplicationFailure.nonRetryable(nodesUnanswered(nodes, held.length, timeout), 'InvalidTrainerConfig');
      throw err;
    }
    const more = withClaim(held, claim);
    if (more.length === held.length) await sleep(Math.min(30_000, 500 * 2 ** repeats++, Math.max(1, deadline - Date.now())));
    held = more;
  }
  return held;
}
