import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activitySpans, activitySpansOf, eventPayloadSizes, executionsSpan, type HistoryEvent, historyFigures, longNumber, nextExecutions, payloadBytes } from '../../../bench/scale-history';

const bytes = (text: string) => new TextEncoder().encode(text);
/** A payload as the default converter writes one: JSON data, its encoding in the metadata. */
const json = (value: unknown) => ({ metadata: { encoding: bytes('json/plain') }, data: bytes(JSON.stringify(value)) });
/** int64 fields arrive as Long objects. */
const long = (n: number) => ({ low: n, high: 0, unsigned: false, toNumber: () => n });
const at = (ms: number) => ({ seconds: long(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });

/** A fake selectSubset history: two searches (one retried), a merge, a child, a continue-as-new. */
function fakeHistory(): HistoryEvent[] {
  const plan = { run: 'r', poolRows: 1000, targets: { train: 10, test: 2 }, workDir: '/x'.repeat(100) };
  return [
    { eventId: long(1), eventTime: at(1000), workflowExecutionStartedEventAttributes: { input: { payloads: [json({ name: 'r' })] }, header: { fields: { trace: json('t') } } } },
    { eventId: long(5), eventTime: at(2000), activityTaskScheduledEventAttributes: { activityType: { name: 'searchTargets' }, input: { payloads: [json(plan), json({ k: 50 }), json(0), json(0)] } } },
    { eventId: long(6), eventTime: at(2000), activityTaskScheduledEventAttributes: { activityType: { name: 'searchTargets' }, input: { payloads: [json(plan), json({ k: 50 }), json(1), json(0)] } } },
    { eventId: long(7), eventTime: at(2500), activityTaskStartedEventAttributes: { scheduledEventId: long(5), attempt: 1 } },
    { eventId: long(8), eventTime: at(9000), activityTaskStartedEventAttributes: { scheduledEventId: long(6), attempt: 3 } },
    { eventId: long(9), eventTime: at(4500), activityTaskCompletedEventAttributes: { scheduledEventId: long(5), result: { payloads: [json({ hits: 500 })] } } },
    { eventId: long(10), eventTime: at(12_000), activityTaskCompletedEventAttributes: { scheduledEventId: long(6), result: { payloads: [json({ hits: 100 })] } } },
    { eventId: long(11), eventTime: at(12_100), activityTaskScheduledEventAttributes: { activityType: { name: 'selectSubsetFromHits' }, input: { payloads: [json(plan)] } } },
    { eventId: long(12), eventTime: at(12_200), activityTaskStartedEventAttributes: { scheduledEventId: long(11), attempt: 1 } },
    { eventId: long(13), eventTime: at(15_200), activityTaskCompletedEventAttributes: { scheduledEventId: long(11), result: { payloads: [{ metadata: { encoding: bytes('binary/null') } }] } } },
    { eventId: long(14), eventTime: at(15_300), childWorkflowExecutionStartedEventAttributes: { workflowExecution: { workflowId: 'r/embed-target', runId: 'child-run' } } },
    { eventId: long(15), eventTime: at(16_000), workflowExecutionContinuedAsNewEventAttributes: { newExecutionRunId: 'next-run', input: { payloads: [json({ next: 200 })] } } },
  ];
}

describe('bench:scale history figures', () => {
  it("measures a payload as its data plus its metadata's keys and values", () => {
    assert.equal(payloadBytes(json({ a: 1 })), 'encoding'.length + 'json/plain'.length + '{"a":1}'.length);
    assert.equal(payloadBytes({ metadata: { encoding: bytes('binary/null') } }), 'encoding'.length + 'binary/null'.length);
  });

  it('counts a list of payloads as one, and a payload on its own alone', () => {
    const event = fakeHistory()[0];
    const input = payloadBytes(json({ name: 'r' }));
    const header = payloadBytes(json('t'));
    assert.deepEqual(eventPayloadSizes(event).sort(), [header, input].sort());
    const scheduled = fakeHistory()[1];
    const args = scheduled.activityTaskScheduledEventAttributes as unknown as { input: { payloads: ReturnType<typeof json>[] } };
    assert.deepEqual(eventPayloadSizes(scheduled), [args.input.payloads.reduce((n, p) => n + payloadBytes(p), 0)]);
    assert.deepEqual(eventPayloadSizes({ eventId: long(1), activityTaskStartedEventAttributes: { scheduledEventId: long(1) } }), []);
  });

  it("gives an execution's events and its largest group of payloads", () => {
    const events = fakeHistory();
    const largest = Math.max(...events.flatMap((e) => eventPayloadSizes(e)));
    assert.deepEqual(historyFigures(events), { events: 12, maxPayloadBytes: largest });
    assert.equal(largest, eventPayloadSizes(events[1])[0], 'the searches carry the plan and three more arguments');
  });

  it('spans each activity type from its first scheduling to its last completion, with its attempts and results', () => {
    const spans = activitySpans(fakeHistory());
    assert.deepEqual([...spans.keys()], ['searchTargets', 'selectSubsetFromHits']);
    const search = spans.get('searchTargets')!;
    assert.equal(search.count, 2);
    assert.equal(search.maxAttempt, 3);
    assert.equal(search.startMs, 2000);
    assert.equal(search.endMs, 12_000);
    assert.deepEqual(search.results, [{ hits: 500 }, { hits: 100 }]);
    assert.equal(search.maxPayloadBytes, eventPayloadSizes(fakeHistory()[1])[0]);
    const merge = spans.get('selectSubsetFromHits')!;
    assert.equal(merge.endMs - merge.startMs, 3100);
    assert.deepEqual(merge.results, [null]);
  });

  it('joins the spans of a workflow that continued as new: event ids restart in each execution', () => {
    const later: HistoryEvent[] = [
      { eventId: long(5), eventTime: at(20_000), activityTaskScheduledEventAttributes: { activityType: { name: 'searchTargets' }, input: { payloads: [json(0)] } } },
      { eventId: long(6), eventTime: at(20_500), activityTaskStartedEventAttributes: { scheduledEventId: long(5), attempt: 1 } },
      { eventId: long(7), eventTime: at(23_000), activityTaskCompletedEventAttributes: { scheduledEventId: long(5), result: { payloads: [json({ hits: 7 })] } } },
    ];
    const joined = activitySpansOf([
      { workflowId: 'r', runId: 'a', events: fakeHistory() },
      { workflowId: 'r', runId: 'b', events: later },
    ]);
    const search = joined.get('searchTargets')!;
    assert.deepEqual({ count: search.count, maxAttempt: search.maxAttempt, startMs: search.startMs, endMs: search.endMs }, { count: 3, maxAttempt: 3, startMs: 2000, endMs: 23_000 });
    assert.deepEqual(search.results, [{ hits: 500 }, { hits: 100 }, { hits: 7 }]);
    assert.equal(joined.get('selectSubsetFromHits')!.count, 1);
  });

  it('follows a run to the run it continued as and to the children it started', () => {
    assert.deepEqual(nextExecutions(fakeHistory(), 'r'), [
      { workflowId: 'r/embed-target', runId: 'child-run' },
      { workflowId: 'r', runId: 'next-run' },
    ]);
    assert.deepEqual(executionsSpan([{ workflowId: 'r', runId: 'a', events: fakeHistory() }, { workflowId: 'r', runId: 'b', events: [{ eventTime: at(20_000) }] }]), { startMs: 1000, endMs: 20_000 });
  });

  it('reads int64 fields given as Long objects, numbers or strings', () => {
    assert.deepEqual([longNumber(long(42)), longNumber(7), longNumber('9'), longNumber(undefined)], [42, 7, 9, 0]);
  });
});
