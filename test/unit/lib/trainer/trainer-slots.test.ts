import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrainerSlots } from '../../../../lib/trainer/trainer-slots';

const never = new AbortController().signal;
/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('a worker’s trainer slots', () => {
  it('admits up to its size, then serves waiters first come, first served', async () => {
    const slots = new TrainerSlots(1);
    const first = await slots.acquire(never);
    assert.equal(slots.free(), false, 'a claim of this worker is refused while its slot is taken');
    const order: string[] = [];
    let waits = 0;
    const second = slots.acquire(never, () => waits++).then((release) => (order.push('second'), release));
    const third = slots.acquire(never, () => waits++).then((release) => (order.push('third'), release));
    await settle();
    assert.deepEqual(order, [], 'nobody starts beside the running trainer');
    assert.equal(waits, 2);
    first();
    first();
    await settle();
    assert.deepEqual(order, ['second'], 'a release twice frees one slot, to the first waiter');
    (await second)();
    await settle();
    assert.deepEqual(order, ['second', 'third']);
    (await third)();
    assert.equal(slots.free(), true);
  });

  it('lets a cancelled waiter leave the line without taking a slot', async () => {
    const slots = new TrainerSlots(1);
    const running = await slots.acquire(never);
    const cancel = new AbortController();
    const cancelled = slots.acquire(cancel.signal);
    const after = slots.acquire(never);
    cancel.abort(new Error('activity cancelled'));
    await assert.rejects(cancelled, /activity cancelled/);
    running();
    const release = await after;
    assert.equal(slots.free(), false);
    release();
    assert.equal(slots.free(), true);
    await assert.rejects(slots.acquire(cancel.signal), /activity cancelled/, 'already cancelled: no slot');
    assert.equal(slots.free(), true);
  });

  it('runs two at once when sized two; unsized, admits every trainer', async () => {
    const two = new TrainerSlots(2);
    await two.acquire(never);
    assert.equal(two.free(), true);
    await two.acquire(never);
    assert.equal(two.free(), false);
    const unsized = new TrainerSlots();
    for (let i = 0; i < 5; i++) await unsized.acquire(never);
    assert.equal(unsized.free(), true);
  });
});
