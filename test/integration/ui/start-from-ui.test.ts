// Starts a run from the Temporal Web UI the way a user does (workflows page, "Start Workflow"
// form, JSON input) and watches it complete there: the path README's "Start a run from the
// Temporal UI" describes, checked against the UI that the pinned CLI (v1.5.1, UI 2.42.1) serves.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { Browser, Locator, Page } from 'playwright-core';
import { projectRoot } from '../../../lib/paths';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { SeptRunResult } from '../../../workflows/pipeline-types';
import { givenEncoder, smallPipelineConfig } from '../../support/small-run';
import { launchChromium } from '../../support/browser';
import { useTestTemporal, withWorkers } from '../../support/temporal';

/** The workflow started from the form, and its input: a small but complete SEPT run. */
const WORKFLOW_TYPE = 'septPipeline';
const RUN_NAME = 'ui-run';
/**
 * Stage 0 trains only for the README's picture (SEPT_UI_SCREENSHOT=1, a run with every stage): the
 * test is of the UI, and sept-pipeline.test.ts tests stage 0, 36 s of trainer time here.
 */
const PICTURE = process.env.SEPT_UI_SCREENSHOT === '1';
const workflowInput = async () => smallPipelineConfig(RUN_NAME, PICTURE ? {} : { encoder: await givenEncoder() });
/** The stages run as child workflows, each with its summary. */
const CHILD_STAGES = [...(PICTURE ? ['encoder'] : []), 'embed', 'select', 'pretrain', 'finetune'];
/** How long the run may take once started. */
const RUN_TIMEOUT_MS = 600_000;
/** How long any one page element may take to show up. */
const UI_TIMEOUT_MS = 30_000;

/** Screenshots and DOM dumps of every run, kept after the test for debugging. */
const DEBUG_DIR = join(tmpdir(), 'septflow-ui-test');
/** The README's picture of a finished run; rewritten only when SEPT_UI_SCREENSHOT=1. */
const README_SCREENSHOT = join(projectRoot, 'docs', 'images', 'ui-finished-run.png');

/** The JSON shown in a read-only or editable CodeMirror editor. */
async function editorJson(editor: Locator): Promise<unknown> {
  return JSON.parse(await editor.locator('.cm-content').innerText());
}

/** Polls `read` until it returns `expected` (deep equality) or the timeout passes; returns the last value. */
async function until<T>(read: () => Promise<T>, expected: unknown, timeoutMs = UI_TIMEOUT_MS): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => undefined);
    try {
      assert.deepEqual(last, expected);
      return last;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return last;
}

/** Whether the run ended (in any way) within `timeoutMs`. */
async function ended(handle: WorkflowHandle, timeoutMs: number): Promise<boolean> {
  const timer = new AbortController();
  const out = await Promise.race([handle.result().then(() => true, () => true), sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false)]);
  timer.abort();
  return out;
}

/** The run page's "Input" and "Result" panels (Result holds the failure of a failed run). */
function runPanel(page: Page, title: 'Input' | 'Result'): Locator {
  return page.getByTestId('input-and-result').locator('div', { has: page.getByRole('heading', { name: title, exact: true }) });
}
const inputPanel = (page: Page) => runPanel(page, 'Input');
const resultPanel = (page: Page) => runPanel(page, 'Result');

async function saveDebug(page: Page, name: string): Promise<string> {
  mkdirSync(DEBUG_DIR, { recursive: true });
  const png = join(DEBUG_DIR, `${name}.png`);
  await page.screenshot({ path: png, fullPage: true });
  writeFileSync(join(DEBUG_DIR, `${name}.html`), await page.content());
  return png;
}

describe('starting a run from the Temporal Web UI', () => {
  const temporal = useTestTemporal({ ui: true });
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => browser?.close());

  it(`starts ${WORKFLOW_TYPE} on ${CPU_QUEUE} from the form and shows it completed, with input and result`, async (t) => {
    const { uiUrl, namespace } = temporal.server;
    assert.ok(uiUrl, 'the dev server serves its Web UI');
    const workflowId = RUN_NAME;
    const input = await workflowInput();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      await withWorkers(temporal, async () => {
        // The UI opens on the default namespace's workflows page.
        await page.goto(uiUrl, { timeout: UI_TIMEOUT_MS });
        await page.waitForURL(`**/namespaces/${namespace}/workflows`, { timeout: UI_TIMEOUT_MS });
        await page.getByRole('button', { name: 'Start Workflow' }).click({ timeout: UI_TIMEOUT_MS });
        await page.waitForURL('**/workflows/start-workflow**', { timeout: UI_TIMEOUT_MS });

        await page.getByLabel('Workflow ID').fill(workflowId);
        await page.getByLabel('Task Queue').fill(CPU_QUEUE);
        await page.getByLabel('Workflow Type').fill(WORKFLOW_TYPE);
        // The input is a CodeMirror editor: insertText types the JSON without auto-closed brackets.
        const editor = page.locator('.editable', { has: page.locator('.cm-content') });
        await editor.locator('.cm-content').click();
        await page.keyboard.insertText(JSON.stringify(input));
        // Leaving the editor pretty-prints the JSON and pushes the button down; a click straight
        // from the editor would land where the button was and start nothing.
        await page.getByRole('heading', { name: 'Start a Workflow' }).click();
        assert.deepEqual(await until(() => editorJson(editor), input), input, 'the form holds the input as typed');
        await saveDebug(page, '1-form-filled');

        await page.getByTestId('start-workflow-button').click();
        // The form stays; a notice links to the new run.
        const started = page.getByRole('link', { name: 'Workflow started successfully' });
        await started.waitFor({ timeout: UI_TIMEOUT_MS });
        await started.click();
        await page.waitForURL(`**/namespaces/${namespace}/workflows/${workflowId}/*/history`, { timeout: UI_TIMEOUT_MS });

        // While the run works the page is left blank: the run page re-renders its growing history
        // every few seconds, and Chromium took more CPU doing it than the run's trainers. The run
        // page is opened again once the server says the run ended.
        const runPage = page.url();
        await page.goto('about:blank');
        if (!(await ended(temporal.client.workflow.getHandle(workflowId), RUN_TIMEOUT_MS))) assert.fail(`run ${workflowId} not finished after ${RUN_TIMEOUT_MS} ms`);
        await page.goto(runPage, { timeout: UI_TIMEOUT_MS });
        const finalStatus = page.locator('header').getByText(/^\s*(Completed|Failed|Terminated|Canceled|Timed Out|Continued as New)\s*$/);
        await finalStatus.waitFor({ timeout: UI_TIMEOUT_MS }).catch(async (err: unknown) => {
          const shown = await page.locator('header').first().innerText().catch(() => '?');
          throw new Error(`run ${workflowId} ended, but its page shows no final status; it says: ${shown}`, { cause: err });
        });
        const shown = (await finalStatus.innerText()).trim();
        if (shown !== 'Completed') {
          const why = await resultPanel(page).locator('.cm-content').innerText().catch(() => '?');
          assert.fail(`run ${workflowId} is ${shown} in the UI, not Completed; its Result panel says:\n${why.slice(0, 2000)}`);
        }

        // The stages, as the children's summaries, under User Metadata; the figures as search
        // attributes and in the run's current details.
        const tab = (name: string) => page.getByRole('link', { name }).or(page.getByRole('tab', { name })).first();
        await tab('User Metadata').click({ timeout: UI_TIMEOUT_MS });
        for (const stage of CHILD_STAGES) {
          await page.getByText(`SEPT run ${RUN_NAME}: ${stage}`).first().waitFor({ timeout: UI_TIMEOUT_MS });
        }
        // The run's current details (stage table and figures, lib/pipeline/progress.ts): the UI
        // asks a worker for them with a query and renders the Markdown in an iframe of its own.
        const details = page.frameLocator('iframe[title="output"]').locator('body');
        await details.getByText('top-1 (fine-tuned)').waitFor({ timeout: UI_TIMEOUT_MS });
        const detailsText = await details.innerText();
        assert.match(detailsText, new RegExp(`SEPT run ${RUN_NAME}: done`));
        for (const stage of [...CHILD_STAGES, 'report']) {
          assert.match(detailsText, new RegExp(`${stage}\\s+done`), `the ${stage} row says done`);
        }
        if (!PICTURE) assert.match(detailsText, /encoder\s+skipped/, 'the given encoder skips stage 0');
        assert.match(detailsText, /subset\s+300 \(6\.0% of the pool\)/);
        assert.match(detailsText, /top-1 \(fine-tuned\)\s+\d+\.\d%/);
        await saveDebug(page, '2-user-metadata');
        if (PICTURE) {
          mkdirSync(join(projectRoot, 'docs', 'images'), { recursive: true });
          await page.screenshot({ path: README_SCREENSHOT });
        }
        await tab('Search Attributes').click({ timeout: UI_TIMEOUT_MS });
        await page.getByText('SeptSubsetSize').first().waitFor({ timeout: UI_TIMEOUT_MS });
        const attributes = await page.locator('body').innerText();
        assert.match(attributes, /SeptStage[\s\S]{0,40}done/, 'the stage search attribute says done');
        assert.match(attributes, /SeptSubsetSize[\s\S]{0,40}300/, 'the subset size is a search attribute');
        assert.match(attributes, /SeptTop1[\s\S]{0,40}0\.\d+/, 'so is the fine-tuned accuracy');
        await tab('History').click({ timeout: UI_TIMEOUT_MS });

      });

      // The server agrees with what the page shows, and the UI sent the input unchanged.
      const handle = temporal.client.workflow.getHandle(workflowId);
      const description = await handle.describe();
      assert.equal(description.status.name, 'COMPLETED');
      assert.equal(description.type, WORKFLOW_TYPE);
      assert.equal(description.taskQueue, CPU_QUEUE);
      assert.equal(((await handle.result()) as SeptRunResult).run, RUN_NAME);
      const history = await handle.fetchHistory();
      const sent = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      assert.ok(sent?.data, 'the run was started with an input payload');
      assert.deepEqual(JSON.parse(Buffer.from(sent.data).toString('utf8')), input);

      // The summary names the run, its type and queue; the Input and Result panels show the JSON.
      assert.equal((await page.getByTestId('workflow-id-heading').innerText()).trim(), workflowId);
      const header = await page.locator('header').first().innerText();
      assert.match(header, new RegExp(`Run ID\\s+${description.runId}`));
      assert.match(header, new RegExp(`Workflow Type\\s+${WORKFLOW_TYPE}\\b`));
      assert.match(header, new RegExp(`Task Queue\\s+${CPU_QUEUE}\\b`));
      // The panels show the start of the JSON (the editor renders only the lines in view).
      assert.match(await inputPanel(page).locator('.cm-content').innerText(), new RegExp(`"name": "${RUN_NAME}"`), 'Input panel shows the input');
      assert.match(await resultPanel(page).locator('.cm-content').innerText(), new RegExp(`"run": "${RUN_NAME}"`), 'Result panel shows the result');

      // The picture: the notice closed, the page scrolled to the top.
      const notice = page.getByRole('log').getByRole('button', { name: 'Close' });
      await notice.click({ timeout: 2000 }).catch(() => undefined);
      await notice.waitFor({ state: 'hidden', timeout: 5000 });
      await page.evaluate('window.scrollTo(0, 0)');
      mkdirSync(DEBUG_DIR, { recursive: true });
      const shot = join(DEBUG_DIR, '2-finished-run.png');
      await page.screenshot({ path: shot });
      t.diagnostic(`screenshot: ${shot}`);
    } catch (err) {
      t.diagnostic(`failure screenshot: ${await saveDebug(page, 'failure').catch(() => 'none')}`);
      throw err;
    } finally {
      await page.close();
    }
  });
});
