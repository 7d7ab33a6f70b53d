// What the browser scripts share: step logging, failures, screenshots, launching the
// system Chromium with the flags this closed-network machine needs, watching a page for
// errors, waiting for log entries and statuses of the tutorial page, and the exit code.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
export const timeout = Number(process.env.STEP_TIMEOUT_MS) || 15000;

let step = 0;
export function log(message) {
  console.log(`[${++step}] ${message}`);
}

// A check that did not hold: reported by its message alone.
export class Failure extends Error {}

export async function screenshot(page, name, fullPage = true) {
  if (!process.env.SCREENSHOT_DIR || !page) return;
  const path = join(process.env.SCREENSHOT_DIR, `${name}.png`);
  try {
    mkdirSync(process.env.SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path, fullPage });
    console.log(`    screenshot saved to ${path}`);
  } catch (error) {
    console.error(`    could not save the screenshot ${path}: ${error.message}`);
  }
}

export async function launch() {
  log(`launching ${executablePath}`);
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// Waits until the log `#<logId>` has an entry matching `want`: `kind` (a class), `text`
// (exact), `contains`, `status` (data-status). Returns the entry's text and data.
export async function waitForEntry(page, logId, want) {
  try {
    const handle = await page.waitForFunction(
      ([logId, { kind, text, contains, status }]) => {
        const found = [...document.querySelectorAll(`#${logId} > *`)].find(
          (el) =>
            (kind === undefined || el.classList.contains(kind)) &&
            (text === undefined || el.textContent === text) &&
            (contains === undefined || el.textContent.includes(contains)) &&
            (status === undefined || el.dataset.status === status),
        );
        return found && { text: found.textContent, innerText: found.innerText, data: { ...found.dataset } };
      },
      [logId, want],
      { timeout },
    );
    return await handle.jsonValue();
  } catch (error) {
    const entries = await logEntries(page, logId).catch(() => []);
    const status = await statusOf(page, logId.replace(/-log$/, '-status')).catch(() => null);
    throw new Failure(
      `timed out after ${timeout} ms waiting for an entry ${JSON.stringify(want)} in #${logId} of ${page.url()}; ` +
        `log is ${JSON.stringify(entries)}, status ${JSON.stringify(status)} (${error.message.split('\n')[0]})`,
    );
  }
}

export function logEntries(page, logId) {
  return page.$$eval(`#${logId} > *`, (els) =>
    els.map((el) => `${el.className}${el.dataset.status ? `[${el.dataset.status}]` : ''}: ${el.textContent}`),
  );
}

export function statusOf(page, statusId) {
  return page.$eval(`#${statusId}`, (el) => `${el.dataset.state}: ${el.textContent.trim()}`);
}

// Waits until `#<statusId>` has data-state `state` and, if given, text matching `pattern`.
export async function waitForStatus(page, statusId, state, pattern) {
  try {
    await page.waitForFunction(
      ([statusId, state, source]) => {
        const el = document.getElementById(statusId);
        return el?.dataset.state === state && (!source || new RegExp(source, 'i').test(el.textContent));
      },
      [statusId, state, pattern?.source],
      { timeout },
    );
  } catch {
    const status = await statusOf(page, statusId).catch(() => null);
    throw new Failure(`#${statusId} of ${page.url()} did not become ${state}${pattern ? ` ${pattern}` : ''}: ${JSON.stringify(status)}`);
  }
  return statusOf(page, statusId);
}

// Console errors and page errors become problems, except the browser's own messages about
// a request to a path in `expectedFailures`: a WebSocket that failed to connect, or an HTTP
// error status (a refusal the page asked for, or an endpoint the app does not have).
export function watch(page, problems, expectedFailures = []) {
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const expected = (where) => expectedFailures.some((path) => where.includes(path));
    if (
      (/^WebSocket connection to '.*' failed/.test(text) && expected(text)) ||
      (/^Failed to load resource: the server responded with a status of/.test(text) && expected(msg.location().url))
    ) {
      console.log(`    (expected) console: ${text} (${msg.location().url})`);
      return;
    }
    problems.push(`console error on ${page.url()}: ${text}`);
  });
}

// A new page of `context` at `url`, watched for problems.
export async function open(context, problems, url, expectedFailures) {
  const page = await context.newPage();
  watch(page, problems, expectedFailures);
  const response = await page.goto(url, { timeout, waitUntil: 'domcontentloaded' });
  if (!response || !response.ok()) {
    throw new Failure(`GET ${url} answered ${response ? response.status() : 'nothing'}`);
  }
  return page;
}

// Runs `main`, printing PASS with `passed`, or the failing step; exits 1 on failure.
export async function run(main, passed) {
  try {
    await main();
    console.log(`PASS: ${passed}`);
  } catch (error) {
    console.error(`FAIL at step ${step}: ${error instanceof Failure ? error.message : error.stack || error}`);
    process.exit(1);
  }
}
