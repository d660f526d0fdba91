import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { Command } from 'commander';
import { registerSchedule } from '../../../cli/commands/schedule';
import type { Census } from '../../../lib/sources/census';
import { parseRunConfig } from '../../../lib/config/validate';
import { demoShards } from '../../../lib/demo/materialize';
import { buildScheduleOptions, describeSchedule, listSchedules, ScheduleInputError } from '../../../lib/temporal/schedules';
import { waitFor } from '../../support/processes';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

/** Runs `sept schedule …` in-process; scheduled runs start `census` (seconds) instead of septPipeline. */
async function sept(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const program = new Command('sept').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerSchedule(program, { workflowType: 'census', print: (line) => lines.push(line) });
  await program.parseAsync(['node', 'sept', 'schedule', ...args]);
  return lines.join('\n');
}

describe('schedule options (pure)', () => {
  const config = parseRunConfig({ demo: true, name: 'nightly' });

  it('start septPipeline on sept-cpu with the validated config, id = run name', () => {
    const options = buildScheduleOptions({ scheduleId: 'nightly', config, every: '24h', overlap: 'buffer-one', catchupWindow: '2h', note: 'why' });
    assert.deepEqual(options.spec, { intervals: [{ every: 86_400_000 }] });
    assert.equal(options.action.workflowType, 'septPipeline');
    assert.equal(options.action.taskQueue, 'sept-cpu');
    assert.equal(options.action.workflowId, 'nightly');
    assert.deepEqual(options.action.args, [config]);
    assert.match(options.action.staticSummary!, /^SEPT run nightly: /);
    assert.deepEqual(options.policies, { overlap: 'BUFFER_ONE', catchupWindow: 7_200_000 });
    assert.deepEqual(options.state, { paused: false, note: 'why' });
    assert.deepEqual(buildScheduleOptions({ scheduleId: 's', config, cron: '0 3 * * *' }).spec, { cronExpressions: ['0 3 * * *'] });
    assert.equal(buildScheduleOptions({ scheduleId: 's', config, every: '1h30m' }).policies?.overlap, 'SKIP');
    assert.deepEqual(buildScheduleOptions({ scheduleId: 's', config, every: '1h30m' }).spec.intervals, [{ every: 5_400_000 }]);
  });

  it('refuses both or neither of every and cron, bad durations, cron expressions and overlap policies', () => {
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config }), /exactly one of --every <duration> and --cron/);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, every: '1h', cron: '0 3 * * *' }), /exactly one of/);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, every: 'daily' }), /every: "daily" is not a duration/);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, every: '500ms' }), ScheduleInputError);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, cron: '0 3 *' }), /cron: "0 3 \*" needs 5 to 7 fields/);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, every: '1h', overlap: 'sometimes' as never }), /overlap: "sometimes" is not one of skip, buffer-one/);
    assert.throws(() => buildScheduleOptions({ scheduleId: 's', config, every: '1h', catchupWindow: 'forever' }), /catchup window: "forever"/);
    assert.doesNotThrow(() => buildScheduleOptions({ scheduleId: 's', config, cron: '@daily' }));
    assert.doesNotThrow(() => buildScheduleOptions({ scheduleId: 's', config, cron: 'CRON_TZ=Europe/Paris 30 2 * * MON-FRI' }));
  });
});

describe('sept schedule on a real dev server', () => {
  const temporal = useTestTemporal();
  let configFile: string;
  let badConfigFile: string;
  const savedAddress = process.env.TEMPORAL_ADDRESS;
  // Made here, not in before(): the folder must outlive the hook, until the suite ends.
  const dir = tempDir();
  before(async () => {
    // The commands connect the way the CLI does: from the environment.
    process.env.TEMPORAL_ADDRESS = temporal.server.address;
    configFile = join(dir, 'run.json');
    const shards = (await demoShards('mnist', 'test')).slice(0, 1);
    writeFileSync(configFile, JSON.stringify({ name: 'sched-census', outputDir: dir, pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards }] }, target: { preset: 'mnist' } }));
    badConfigFile = join(dir, 'bad.json');
    writeFileSync(badConfigFile, JSON.stringify({ name: 'sched-bad', retrieval: { bugdet: 3 } }));
  });
  after(() => {
    if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = savedAddress;
  });

  it('refuses bad input with a clear message and creates nothing', async () => {
    await assert.rejects(sept('create', 'bad', '--config', badConfigFile, '--every', '1h'), /retrieval\.bugdet: unknown field/);
    await assert.rejects(describeSchedule(temporal.client, 'bad'), ScheduleNotFoundError);
    await assert.rejects(sept('create', 'bad', '--config', configFile, '--every', '1h', '--cron', '0 3 * * *'), /exactly one of --every <duration> and --cron <expr>/);
    await assert.rejects(sept('create', 'bad', '--config', configFile), /exactly one of --every <duration> and --cron <expr>/);
    await assert.rejects(sept('create', 'bad', '--config', configFile, '--every', 'nightly'), /every: "nightly" is not a duration/);
    await assert.rejects(sept('create', 'bad', '--config', configFile, '--every', '1h', '--overlap', 'sometimes'), /Allowed choices are skip, buffer-one/);
    await assert.rejects(sept('create', 'bad', '--every', '1h'), /required option '-c, --config <file>' not specified/);
    await assert.rejects(describeSchedule(temporal.client, 'bad'), ScheduleNotFoundError);
  });

  it('creates, lists, describes, pauses and unpauses with notes, deletes', async () => {
    const created = await sept('create', 'hourly', '--config', configFile, '--every', '1h', '--paused', '--note', 'waiting for the new pool', '--catchup-window', '10m');
    assert.match(created, /^created schedule hourly/);
    assert.match(created, /schedule hourly: PAUSED \(note: waiting for the new pool\)/);
    assert.match(created, /starts {7}census on sept-cpu, workflow id sched-census-<scheduled time>/);
    assert.match(created, /run {10}SEPT run sched-census: pool mnist-part/);
    assert.match(created, /when {9}every 1h \(UTC\)/);
    assert.match(created, /overlap {6}skip; catchup window 10m/);
    assert.match(created, /next runs {4}\(paused\)/);

    // Listing goes through visibility: a new schedule shows after a moment.
    const listed = await waitFor('the schedule in the list', async () => {
      const out = await sept('list');
      return out.includes('hourly') ? out : undefined;
    }, 30_000);
    assert.match(listed, /^schedule +state +when +next run +last run +note/);
    assert.match(listed, /hourly +paused +every 1h +- +- +waiting for the new pool/);

    assert.match(await sept('unpause', 'hourly', '--note', 'pool is ready'), /unpaused schedule hourly; next run \d{4}-\d\d-\d\d \d\d:00:00 UTC \(in /);
    const active = await sept('describe', 'hourly');
    assert.match(active, /schedule hourly: active \(note: pool is ready\)/);
    assert.match(active, /next runs {4}\d{4}-\d\d-\d\d \d\d:00:00 UTC \(in [^)]+\)\n {15}\d{4}/, 'the next runs, one a line');
    assert.match(active, /recent runs {2}none yet/);

    assert.match(await sept('pause', 'hourly', '--note', 'maintenance'), /paused schedule hourly \(note: maintenance\)/);
    const paused = await describeSchedule(temporal.client, 'hourly');
    assert.equal(paused.state.paused, true);
    assert.equal(paused.state.note, 'maintenance');
    assert.deepEqual(paused.action.args, [parseRunConfig(JSON.parse(JSON.stringify(paused.action.args?.[0])))], 'the validated config is the argument');

    assert.match(await sept('delete', 'hourly'), /deleted schedule hourly/);
    await assert.rejects(describeSchedule(temporal.client, 'hourly'), ScheduleNotFoundError);
    await waitFor('the schedule gone from the list', async () => !(await listSchedules(temporal.client)).some((s) => s.scheduleId === 'hourly'), 30_000);
  });

  it('trigger starts a run that completes; under skip, a trigger while a run is running starts nothing', async () => {
    // New Year at midnight: no scheduled time falls inside the test, only triggers start runs.
    await sept('create', 'yearly', '--config', configFile, '--cron', '0 0 1 1 *', '--overlap', 'skip');
    const described = () => describeSchedule(temporal.client, 'yearly');

    // No worker serves sept-cpu yet: the first run stays running.
    assert.match(await sept('trigger', 'yearly'), /triggered schedule yearly \(overlap skip\)/);
    const first = await waitFor('the first run', async () => (await described()).info.recentActions[0]?.action.workflow);
    assert.match(first.workflowId, /^sched-census-\d{4}-\d\d-\d\dT/, 'workflow id: run name plus the scheduled time');
    await sept('trigger', 'yearly');
    const skipped = await waitFor('the second trigger to be skipped', async () => {
      const d = await described();
      return d.info.numActionsSkippedOverlap === 1 ? d : undefined;
    });
    assert.equal(skipped.info.recentActions.length, 1, 'only one run started');
    assert.equal(skipped.info.numActionsTaken, 1);
    assert.deepEqual(skipped.info.runningActions.map((a) => a.workflow.workflowId), [first.workflowId]);

    const second = await withWorkers(temporal, async () => {
      const census = (await temporal.client.workflow.getHandle(first.workflowId, first.firstExecutionRunId).result()) as Census;
      assert.equal(census.total, 1000);
      // Once the schedule has seen the run finish, a trigger starts the next one.
      await waitFor('the schedule to see the run finish', async () => (await described()).info.runningActions.length === 0, 30_000);
      await sept('trigger', 'yearly');
      const next = await waitFor('the second run', async () => (await described()).info.recentActions[1]?.action.workflow);
      assert.equal(((await temporal.client.workflow.getHandle(next.workflowId, next.firstExecutionRunId).result()) as Census).total, 1000);
      return next;
    });
    assert.notEqual(second.workflowId, first.workflowId);

    const out = await sept('describe', 'yearly');
    assert.match(out, /actions {6}2 taken, 1 skipped for overlap, 0 missed the catchup window/);
    assert.match(out, new RegExp(`recent runs\\n {4}.*${second.workflowId} +COMPLETED\\n {4}.*${first.workflowId} +COMPLETED`));
    assert.match(out, /when {9}cron 0 0 1 1 \* \(UTC\)/);
    console.log(out);

    // An explicit policy overrides the schedule's for one trigger.
    assert.match(await sept('trigger', 'yearly', '--overlap', 'allow-all'), /overlap allow-all/);
    await sept('delete', 'yearly');
  });
});
