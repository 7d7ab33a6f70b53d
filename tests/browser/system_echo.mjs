// Drives the System Chat page of the system_echo example in a real Chromium.
//
//   node tests/browser/system_echo.mjs http://127.0.0.1:8000/
//
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT (a PNG path to save at the end),
// STEP_TIMEOUT_MS (default 15000). Exits non-zero with a precise message on any failure.

import { chromium } from 'playwright-core';

const baseUrl = process.argv[2];
if (!baseUrl) {
  console.error('usage: node system_echo.mjs <base-url>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = Number(process.env.STEP_TIMEOUT_MS) || 15000;

const WELCOME = '🔧 System: Connection established!';
const ECHO = '🔧 System Echo: hello browser';
const XSS = '<b>x</b>';

let step = 0;
function log(message) {
  console.log(`[${++step}] ${message}`);
}

class Failure extends Error {}

// Waits until the log has an entry of `kind` whose text is exactly `text`.
async function waitForEntry(page, kind, text) {
  try {
    await page.waitForFunction(
      ([kind, text]) =>
        [...document.querySelectorAll('#system-log > .' + kind)].some((el) => el.textContent === text),
      [kind, text],
      { timeout },
    );
  } catch (error) {
    const entries = await logEntries(page).catch(() => []);
    const status = await page.textContent('#system-status', { timeout: 1000 }).catch(() => null);
    throw new Failure(
      `timed out after ${timeout} ms waiting for a .${kind} entry ${JSON.stringify(text)} in #system-log; ` +
        `log is ${JSON.stringify(entries)}, status ${JSON.stringify(status)} (${error.message.split('\n')[0]})`,
    );
  }
}

function logEntries(page) {
  return page.$$eval('#system-log > *', (els) => els.map((el) => `${el.className}: ${el.textContent}`));
}

async function screenshot(page) {
  if (!process.env.SCREENSHOT || !page) return;
  try {
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    console.log(`    screenshot saved to ${process.env.SCREENSHOT}`);
  } catch (error) {
    console.error(`    could not save the screenshot: ${error.message}`);
  }
}

async function main() {
  log(`launching ${executablePath}`);
  const browser = await chromium.launch({
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
  const problems = [];
  let page = null;
  try {
    console.log(`    browser version ${browser.version()}`);
    page = await browser.newPage({ viewport: { width: 1000, height: 720 } });
    watch(page, problems);

    log(`opening ${baseUrl}`);
    const response = await page.goto(baseUrl, { timeout, waitUntil: 'domcontentloaded' });
    if (!response || !response.ok()) {
      throw new Failure(`GET ${baseUrl} answered ${response ? response.status() : 'nothing'}`);
    }
    console.log(`    title: ${JSON.stringify(await page.title())}`);

    log(`waiting for the welcome ${JSON.stringify(WELCOME)}`);
    await waitForEntry(page, 'msg-server', WELCOME);

    log('checking #system-status shows connected');
    try {
      await page.waitForFunction(
        () => document.querySelector('#system-status')?.dataset.state === 'connected',
        null,
        { timeout },
      );
    } catch {
      const status = await page.$eval('#system-status', (el) => `${el.dataset.state}: ${el.textContent}`);
      throw new Failure(`#system-status is not connected: ${JSON.stringify(status)}`);
    }
    const statusText = (await page.textContent('#system-status')).trim();
    if (!/connected/i.test(statusText) || /disconnected/i.test(statusText)) {
      throw new Failure(`#system-status text is ${JSON.stringify(statusText)}, expected "Connected"`);
    }
    console.log(`    status: ${JSON.stringify(statusText)}`);

    log('typing "hello browser" and clicking Send');
    await page.fill('#system-input', 'hello browser', { timeout });
    await page.click('#system-send', { timeout });
    await waitForEntry(page, 'msg-user', 'hello browser');
    const left = await page.inputValue('#system-input');
    if (left !== '') throw new Failure(`#system-input was not cleared after sending: ${JSON.stringify(left)}`);

    log(`waiting for the echo ${JSON.stringify(ECHO)}`);
    await waitForEntry(page, 'msg-server', ECHO);

    log(`sending ${JSON.stringify(XSS)} with Enter and checking it is shown literally`);
    await page.fill('#system-input', XSS, { timeout });
    await page.press('#system-input', 'Enter', { timeout });
    await waitForEntry(page, 'msg-user', XSS);
    await waitForEntry(page, 'msg-server', `🔧 System Echo: ${XSS}`);
    const bolds = await page.$$eval('#system-log b', (els) => els.length);
    if (bolds !== 0) throw new Failure(`#system-log contains ${bolds} <b> element(s): text was parsed as HTML`);

    log('checking that a blank input is not sent');
    const before = (await logEntries(page)).length;
    await page.fill('#system-input', '   ', { timeout });
    await page.press('#system-input', 'Enter', { timeout });
    // One round trip through the server: whatever the blank line caused arrives before this echo.
    await page.fill('#system-input', 'after blank', { timeout });
    await page.click('#system-send', { timeout });
    await waitForEntry(page, 'msg-server', '🔧 System Echo: after blank');
    const entries = await logEntries(page);
    if (entries.length - before !== 2) {
      throw new Failure(`expected 2 new log entries (line and echo), got ${entries.length - before}: ${JSON.stringify(entries)}`);
    }

    await checkErrorDisplay(browser, problems);

    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
    console.log('    log:');
    for (const entry of await logEntries(page)) console.log(`      ${entry}`);
  } finally {
    await screenshot(page);
    await browser.close();
  }
}

function watch(page, problems) {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
}

// The server's validation errors, shown by the page: a second page whose socket goes
// through Playwright, which turns the line "send a number" into a payload with a number.
async function checkErrorDisplay(browser, problems) {
  log('checking that a server validation error is shown (socket routed to send a number)');
  const page = await browser.newPage();
  try {
    watch(page, problems);
    await page.routeWebSocket(/\/ws\/system$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((text) => {
        const frame = JSON.parse(text);
        if (frame.payload?.message === 'send a number') frame.payload.message = 42;
        server.send(JSON.stringify(frame));
      });
    });
    await page.goto(baseUrl, { timeout, waitUntil: 'domcontentloaded' });
    await waitForEntry(page, 'msg-server', WELCOME);
    await page.fill('#system-input', 'send a number', { timeout });
    await page.click('#system-send', { timeout });
    await waitForEntry(page, 'msg-error', 'Error: Input should be a valid string (at user_message.payload.message)');
  } finally {
    await page.close();
  }
}

try {
  await main();
  console.log('PASS: system_echo page works in Chromium');
} catch (error) {
  console.error(`FAIL at step ${step}: ${error instanceof Failure ? error.message : error.stack || error}`);
  process.exit(1);
}
