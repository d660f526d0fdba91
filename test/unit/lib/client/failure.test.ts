import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  DefaultFailureConverter,
  defaultPayloadConverter,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { explainingFailure, explainRunFailure, RunFailedError } from '../../../../lib/client/failure';
import { failureChain, retold, rootCauseLine, withFailedAttempt } from '../../../../lib/temporal/failure-chain';

const converter = new DefaultFailureConverter();

/** What crosses the server: encoded by the worker, decoded by the workflow or the client. */
function overTheWire<E extends Error>(err: Error): E {
  return converter.failureToError(converter.errorToFailure(err, defaultPayloadConverter), defaultPayloadConverter) as E;
}

type Event = Record<string, unknown>;

/** A client that answers fetchHistory from canned events per `<workflowId>@<runId>` (or the id alone: its latest run), and nothing else. */
function clientWith(histories: Record<string, Event[]>): Client & { fetched: string[] } {
  const fetched: string[] = [];
  const client = {
    options: { namespace: 'default' },
    workflow: {
      getHandle: (workflowId: string, runId?: string) => ({
        fetchHistory: async () => {
          const key = runId ? `${workflowId}@${runId}` : workflowId;
          fetched.push(key);
          if (!histories[key]) throw new Error(`no history of ${key}`);
          return { events: histories[key] };
        },
      }),
    },
    fetched,
  };
  return client as unknown as Client & { fetched: string[] };
}

const STDERR = 'loading shards\nRuntimeError: CUDA out of memory';

/** A trainer crash in trainModel's runTrainer after its second attempt, as the activity's worker sends it. */
function trainerCrash(): ActivityFailure {
  const thrown = withFailedAttempt(ApplicationFailure.retryable(`trainer pretrain exited with code 1; last stderr lines:\n${STDERR}`, 'TrainerFailed', { stderr: STDERR }), 2) as Error;
  return overTheWire(new ActivityFailure('Activity task failed', 'runTrainer', '5', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'worker-1', thrown));
}

describe('failure chains', () => {
  it('an activity failure: the root cause with its type, the activity and the attempt it carries', () => {
    const chain = failureChain(trainerCrash());
    assert.deepEqual(
      chain.map((l) => l.type),
      ['ActivityFailure', 'TrainerFailed'],
    );
    assert.deepEqual(chain[0].activity, { type: 'runTrainer', id: '5', retryState: 'MAXIMUM_ATTEMPTS_REACHED', attempt: 2 });
    assert.equal(rootCauseLine(chain), `TrainerFailed in activity runTrainer (attempt 2): trainer pretrain exited with code 1; last stderr lines:\n${STDERR}`);
  });

  it('the attempt is the last detail: the activity\'s own details come first, unchanged', () => {
    const root = trainerCrash().cause as ApplicationFailure;
    assert.deepEqual(root.details, [{ stderr: STDERR }, { failedAttempt: 2 }]);
    assert.equal(root.nonRetryable, false);
    // A plain error becomes the ApplicationFailure the SDK would make of it; cancellations pass as they are.
    const plain = withFailedAttempt(new RangeError('offset out of range'), 3) as ApplicationFailure;
    assert.ok(plain instanceof ApplicationFailure);
    assert.equal(plain.type, 'RangeError');
    assert.deepEqual(plain.details, [{ failedAttempt: 3 }]);
    const cancelled = new CancelledFailure('cancelled');
    assert.equal(withFailedAttempt(cancelled, 1), cancelled);
  });

  it('a retold failure keeps its kind, retry state and causes, with the root cause line as its message on the wire', () => {
    const failure = retold(trainerCrash());
    const received = overTheWire<ActivityFailure>(failure);
    assert.ok(received instanceof ActivityFailure);
    assert.equal(received.message, 'TrainerFailed in activity runTrainer (attempt 2): trainer pretrain exited with code 1; last stderr lines:\n' + STDERR);
    assert.equal(received.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
    assert.ok(received.cause instanceof ApplicationFailure);
    assert.equal(received.cause.type, 'TrainerFailed');
  });

  it('a child workflow failure: where the activity ran, in the line and in the chain with its UI link', async () => {
    // The child retold its own failure; the pipeline retells the child's.
    const child = overTheWire<ChildWorkflowFailure>(
      retold(new ChildWorkflowFailure('default', { workflowId: 'crash/pretrain', runId: 'r1' }, 'trainModel', RetryState.NON_RETRYABLE_FAILURE, retold(trainerCrash()))),
    );
    const line = 'TrainerFailed in activity runTrainer (attempt 2) of workflow trainModel crash/pretrain: trainer pretrain exited with code 1; last stderr lines:\n' + STDERR;
    // As recorded (the UI shows it); the SDK decodes a child's failure with a fixed message of its own.
    assert.equal(child.failure?.message, line);
    const client = clientWith({});
    const explained = await explainRunFailure(client, { workflowType: 'septPipeline', workflowId: 'crash' }, new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE));
    assert.deepEqual(client.fetched, [], 'the attempt travelled with the failure: no history read');
    assert.equal(
      explained.message,
      [
        'septPipeline crash failed: TrainerFailed in activity runTrainer (attempt 2) of workflow trainModel crash/pretrain: trainer pretrain exited with code 1; last stderr lines:',
        '  loading shards',
        '  RuntimeError: CUDA out of memory',
        '  Temporal UI: http://localhost:8233/namespaces/default/workflows/crash',
        '  ChildWorkflowFailure: workflow trainModel crash/pretrain failed (retry state: non retryable failure), http://localhost:8233/namespaces/default/workflows/crash%2Fpretrain',
        '  ActivityFailure: activity runTrainer failed at attempt 2 (retry state: maximum attempts reached)',
        '  TrainerFailed: trainer pretrain exited with code 1; last stderr lines: …',
      ].join('\n'),
    );
    assert.ok(explained instanceof RunFailedError && explained instanceof WorkflowFailedError);
    assert.equal(explained.cause, child, 'the same cause: code that walks it sees what it saw');
  });

  it('a timeout carries no attempt: it is read from the history of the execution the activity ran in, following continue-as-new', async () => {
    const timeout = overTheWire<ActivityFailure>(
      new ActivityFailure('Activity task timed out', 'embedShards', '7', RetryState.MAXIMUM_ATTEMPTS_REACHED, undefined, new TimeoutFailure('activity Heartbeat timeout', undefined, TimeoutType.HEARTBEAT)),
    );
    const child = new ChildWorkflowFailure('default', { workflowId: 'run/embed', runId: 'first' }, 'embedPool', RetryState.NON_RETRYABLE_FAILURE, timeout);
    const client = clientWith({
      'run/embed@first': [{ eventId: 1 }, { eventId: 40, workflowExecutionContinuedAsNewEventAttributes: { newExecutionRunId: 'second' } }],
      'run/embed@second': [
        { eventId: 12, activityTaskScheduledEventAttributes: { activityId: '7' } },
        { eventId: 13, activityTaskScheduledEventAttributes: { activityId: '8' } },
        { eventId: 30, activityTaskStartedEventAttributes: { scheduledEventId: 13, attempt: 1 } },
        { eventId: 31, activityTaskStartedEventAttributes: { scheduledEventId: 12, attempt: 10 } },
      ],
    });
    const explained = await explainRunFailure(client, { workflowType: 'septPipeline', workflowId: 'run' }, new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE));
    assert.deepEqual(client.fetched, ['run/embed@first', 'run/embed@second']);
    const [headline] = explained.message.split('\n');
    assert.equal(headline, 'septPipeline run failed: TimeoutFailure in activity embedShards (attempt 10) of workflow embedPool run/embed: activity Heartbeat timeout');
    assert.match(explained.message, /\n {2}ActivityFailure: activity embedShards failed at attempt 10 \(retry state: maximum attempts reached\)\n {2}TimeoutFailure: activity Heartbeat timeout$/);
    assert.equal(explained.chain[1].activity?.attempt, 10);
  });

  it('an activity of the run itself is looked up in the run\'s latest history; an unreadable history leaves the attempt out', async () => {
    const failed = overTheWire<ActivityFailure>(new ActivityFailure('Activity task failed', 'listSourceShards', '2', RetryState.NON_RETRYABLE_FAILURE, undefined, ApplicationFailure.nonRetryable('no such shard or folder: /nonexistent/pool', 'SourceError')));
    const found = await explainRunFailure(
      clientWith({ census: [{ eventId: 5, activityTaskScheduledEventAttributes: { activityId: '2' } }, { eventId: 7, activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 1 } }] }),
      { workflowType: 'census', workflowId: 'census' },
      new WorkflowFailedError('Workflow execution failed', failed, RetryState.NON_RETRYABLE_FAILURE),
    );
    assert.match(found.message, /^census census failed: SourceError in activity listSourceShards \(attempt 1\): no such shard or folder: \/nonexistent\/pool\n/);
    assert.match(found.message, /\n {2}SourceError: no such shard or folder: \/nonexistent\/pool \(non-retryable\)$/);
    const unknown = await explainRunFailure(clientWith({}), { workflowId: 'census' }, new WorkflowFailedError('Workflow execution failed', failed, RetryState.NON_RETRYABLE_FAILURE));
    assert.match(unknown.message, /^workflow census failed: SourceError in activity listSourceShards: no such/);
  });

  it('a cancellation: says so, one level, no chain listed', async () => {
    const cancelled = new WorkflowFailedError('Workflow execution cancelled', overTheWire(new CancelledFailure('Workflow cancelled')), RetryState.NON_RETRYABLE_FAILURE);
    const explained = await explainRunFailure(clientWith({}), { workflowType: 'trainModel', workflowId: 'api-progress' }, cancelled);
    assert.equal(explained.message, 'trainModel api-progress was cancelled: CancelledFailure: Workflow cancelled\n  Temporal UI: http://localhost:8233/namespaces/default/workflows/api-progress');
    assert.ok(explained.cause instanceof CancelledFailure);
  });

  it('a workflow\'s own failure is its line as it is', async () => {
    const own = overTheWire(ApplicationFailure.nonRetryable('the selected subset of run x is empty: check retrieval.budget', 'EmptySubset'));
    const explained = await explainRunFailure(clientWith({}), { workflowType: 'septPipeline', workflowId: 'x' }, new WorkflowFailedError('Workflow execution failed', own, RetryState.NON_RETRYABLE_FAILURE));
    assert.match(explained.message, /^septPipeline x failed: EmptySubset: the selected subset of run x is empty: check retrieval\.budget\n {2}Temporal UI: \S+$/);
  });

  it('explainingFailure passes results and other errors through, and explains a failed run once', async () => {
    const client = clientWith({});
    assert.equal(await explainingFailure(client, { workflowId: 'x' }, Promise.resolve(42)), 42);
    const other = new Error('connection refused');
    await assert.rejects(explainingFailure(client, { workflowId: 'x' }, Promise.reject(other)), (err) => err === other);
    const failed = new WorkflowFailedError('Workflow execution failed', overTheWire(new CancelledFailure('Workflow cancelled')), RetryState.NON_RETRYABLE_FAILURE);
    const once = await explainingFailure(client, { workflowId: 'x' }, Promise.reject(failed)).catch((err: unknown) => err);
    assert.ok(once instanceof RunFailedError);
    await assert.rejects(explainingFailure(client, { workflowId: 'x' }, Promise.reject(once)), (err) => err === once);
  });
});
