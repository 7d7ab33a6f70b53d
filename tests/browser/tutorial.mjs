// Drives the tutorial page (System Chat, Room Chat, Background Jobs) in a real Chromium.
//
//   node tests/browser/tutorial.mjs <base-url> [<base-url of an app serving only /ws/system>]
//
// The first app must serve all three consumers. With the second URL, the script also checks
// that the Room Chat, Background Jobs and Authenticated panels say they are not available
// there (the Authenticated panel is driven by authenticated.mjs).
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves a PNG per tab there),
// STEP_TIMEOUT_MS (default 15000). Exits non-zero with a precise message on any failure.

import {
  Failure,
  launch,
  log,
  logEntries,
  open,
  run,
  screenshot,
  statusOf,
  timeout,
  waitForEntry,
  waitForStatus,
  watch,
} from './common.mjs';

const [baseUrl, systemOnlyUrl] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node tutorial.mjs <base-url> [<system-only-base-url>]');
  process.exit(2);
}

const WELCOME = '🔧 System: Connection established!';
const ECHO = '🔧 System Echo: hello browser';
const XSS = '<b>x</b>';
const JOBS_CONNECTED = '🔄 Background Job Processor: Connected!';

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    console.log(`    browser version ${browser.version()}`);
    const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
    const page = await checkSystemChat(context, problems);
    await checkErrorDisplay(context, problems);
    await checkRoomChat(context, problems, page);
    await checkBackgroundJobs(page);
    if (systemOnlyUrl) await checkNotAvailable(context, problems);
    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
}

async function checkSystemChat(context, problems) {
  log(`opening ${baseUrl}`);
  const page = await open(context, problems, baseUrl);
  console.log(`    title: ${JSON.stringify(await page.title())}`);

  log(`System Chat: waiting for the welcome ${JSON.stringify(WELCOME)}`);
  await waitForEntry(page, 'system-log', { kind: 'msg-server', text: WELCOME });
  const status = await waitForStatus(page, 'system-status', 'connected', /^\s*connected\s*$/);
  console.log(`    status ${JSON.stringify(status)}`);

  log('System Chat: typing "hello browser" and clicking Send');
  await page.fill('#system-input', 'hello browser', { timeout });
  await page.click('#system-send', { timeout });
  await waitForEntry(page, 'system-log', { kind: 'msg-user', text: 'hello browser' });
  const left = await page.inputValue('#system-input');
  if (left !== '') throw new Failure(`#system-input was not cleared after sending: ${JSON.stringify(left)}`);
  await waitForEntry(page, 'system-log', { kind: 'msg-server', text: ECHO });

  log(`System Chat: sending ${JSON.stringify(XSS)} with Enter and checking it is shown literally`);
  await page.fill('#system-input', XSS, { timeout });
  await page.press('#system-input', 'Enter', { timeout });
  await waitForEntry(page, 'system-log', { kind: 'msg-user', text: XSS });
  await waitForEntry(page, 'system-log', { kind: 'msg-server', text: `🔧 System Echo: ${XSS}` });
  const bolds = await page.$$eval('#system-log b', (els) => els.length);
  if (bolds !== 0) throw new Failure(`#system-log contains ${bolds} <b> element(s): text was parsed as HTML`);

  log('System Chat: checking that a blank input is not sent');
  const before = (await logEntries(page, 'system-log')).length;
  await page.fill('#system-input', '   ', { timeout });
  await page.press('#system-input', 'Enter', { timeout });
  // One round trip through the server: whatever the blank line caused arrives before this echo.
  await page.fill('#system-input', 'after blank', { timeout });
  await page.click('#system-send', { timeout });
  await waitForEntry(page, 'system-log', { kind: 'msg-server', text: '🔧 System Echo: after blank' });
  const entries = await logEntries(page, 'system-log');
  if (entries.length - before !== 2) {
    throw new Failure(`expected 2 new log entries (line and echo), got ${entries.length - before}: ${JSON.stringify(entries)}`);
  }

  log('checking that Room Chat, Background Jobs and Authenticated have not connected on their own');
  for (const id of ['room-status', 'jobs-status', 'auth-status']) {
    const state = await statusOf(page, id);
    if (!state.startsWith('idle:')) throw new Failure(`#${id} is ${JSON.stringify(state)} before its panel was used`);
  }
  await screenshot(page, 'system');
  return page;
}

// The server's validation errors, shown by the page: a page whose socket goes through
// Playwright, which turns the line "send a number" into a payload with a number.
async function checkErrorDisplay(context, problems) {
  log('System Chat: checking that a server validation error is shown (socket routed to send a number)');
  const page = await context.newPage();
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
    await waitForEntry(page, 'system-log', { kind: 'msg-server', text: WELCOME });
    await page.fill('#system-input', 'send a number', { timeout });
    await page.click('#system-send', { timeout });
    await waitForEntry(page, 'system-log', {
      kind: 'msg-error',
      text: 'Error: Input should be a valid string (at user_message.payload.message)',
    });
  } finally {
    await page.close();
  }
}

async function joinRoom(page, room) {
  await page.click('#tab-room', { timeout });
  await page.fill('#room-name', room, { timeout });
  await page.click('#room-connect', { timeout });
  await waitForStatus(page, 'room-status', 'connected');
  await waitForEntry(page, 'room-log', { kind: 'msg-info', text: `You are in room ${JSON.stringify(room)}` });
}

async function sendToRoom(page, text) {
  await page.fill('#room-input', text, { timeout });
  await page.click('#room-send', { timeout });
  await waitForEntry(page, 'room-log', { kind: 'msg-user', text });
}

async function checkRoomChat(context, problems, a) {
  log('Room Chat: page A opens the tab; the room input says "general"');
  await a.click('#tab-room', { timeout });
  const initial = await a.inputValue('#room-name');
  if (initial !== 'general') throw new Failure(`#room-name starts as ${JSON.stringify(initial)}, not "general"`);

  log('Room Chat: A and then B join "lobby"; A hears B join');
  await joinRoom(a, 'lobby');
  const b = await open(context, problems, baseUrl);
  await joinRoom(b, 'lobby');
  await waitForEntry(a, 'room-log', { kind: 'msg-server', text: "🚪 Someone joined room 'lobby'" });

  log('Room Chat: B sends "hi room"; A and B both get it');
  await sendToRoom(b, 'hi room');
  await waitForEntry(b, 'room-log', { kind: 'msg-server', text: '💬 hi room' });
  await waitForEntry(a, 'room-log', { kind: 'msg-server', text: '💬 hi room' });

  log('Room Chat: C in room "other" sends "elsewhere"; neither A nor B gets it');
  const c = await open(context, problems, baseUrl);
  await joinRoom(c, 'other');
  await sendToRoom(c, 'elsewhere');
  await waitForEntry(c, 'room-log', { kind: 'msg-server', text: '💬 elsewhere' });
  // A round trip in "lobby" after C's message: had it leaked, it would be there by now.
  await sendToRoom(a, 'still here');
  await waitForEntry(a, 'room-log', { kind: 'msg-server', text: '💬 still here' });
  await waitForEntry(b, 'room-log', { kind: 'msg-server', text: '💬 still here' });
  for (const [name, page] of [['A', a], ['B', b]]) {
    const leaked = (await logEntries(page, 'room-log')).filter((e) => /elsewhere|'other'/.test(e));
    if (leaked.length) throw new Failure(`page ${name} got messages of room "other": ${JSON.stringify(leaked)}`);
  }
  await c.close();

  log('Room Chat: B disconnects; A hears B leave');
  await b.click('#room-disconnect', { timeout });
  await waitForStatus(b, 'room-status', 'idle', /disconnected/);
  if (await b.isDisabled('#room-connect')) throw new Failure('#room-connect stays disabled after Disconnect');
  await waitForEntry(a, 'room-log', { kind: 'msg-server', text: "👋 Someone left room 'lobby'" });
  await b.close();
  console.log('    log of A:');
  for (const entry of await logEntries(a, 'room-log')) console.log(`      ${entry}`);
  await screenshot(a, 'room');
}

async function submitJob(page, type, content, how = 'click') {
  await page.selectOption('#job-type', type, { timeout });
  await page.fill('#job-content', content, { timeout });
  if (how === 'click') await page.click('#job-send', { timeout });
  else await page.press('#job-content', 'Enter', { timeout });
  await waitForEntry(page, 'jobs-log', { kind: 'msg-user', text: `${type}: ${content}` });
}

async function checkBackgroundJobs(page) {
  log('Background Jobs: opening the tab connects');
  await page.click('#tab-jobs', { timeout });
  await waitForEntry(page, 'jobs-log', { kind: 'msg-server', status: 'connected', text: JOBS_CONNECTED });
  await waitForStatus(page, 'jobs-status', 'connected');

  log('Background Jobs: translate "hello" is queued and translated');
  await submitJob(page, 'translate', 'hello');
  await waitForEntry(page, 'jobs-log', { status: 'queuing', text: '⏳ Queuing translate job: hello' });
  const queued = await waitForEntry(page, 'jobs-log', { status: 'queued' });
  const id = queued.data.jobId;
  if (!id || !queued.text.includes(id)) {
    throw new Failure(`the queued entry has job id ${JSON.stringify(id)}: ${JSON.stringify(queued)}`);
  }
  console.log(`    queued as ${id}: ${JSON.stringify(queued.text)}`);
  await waitForEntry(page, 'jobs-log', { status: 'result', text: "🌍 Translated: 'hello' → 'hola'" });

  log('Background Jobs: analyze "Hi there" (with Enter) shows a multi-line result');
  await submitJob(page, 'analyze', 'Hi there', 'enter');
  const result = await waitForEntry(page, 'jobs-log', { status: 'result', contains: '• Words: 2' });
  const lines = result.innerText.split('\n');
  if (lines.length < 5 || !lines.includes('• Words: 2')) {
    throw new Failure(`the analysis is not shown on separate lines: ${JSON.stringify(result.innerText)}`);
  }
  console.log('    log:');
  for (const entry of await logEntries(page, 'jobs-log')) console.log(`      ${entry}`);
  await screenshot(page, 'jobs');
}

async function checkNotAvailable(context, problems) {
  log(`opening ${systemOnlyUrl} (System Echo only): the other panels say they are not available`);
  const page = await open(context, problems, systemOnlyUrl, ['/ws/room/', '/ws/background_jobs', '/auth/check']);
  await waitForEntry(page, 'system-log', { kind: 'msg-server', text: WELCOME });
  await page.click('#tab-room', { timeout });
  await page.click('#room-connect', { timeout });
  console.log(`    room: ${await waitForStatus(page, 'room-status', 'disconnected', /not available/)}`);
  if (await page.isDisabled('#room-connect')) throw new Failure('#room-connect stays disabled after a failed connect');
  await page.click('#tab-jobs', { timeout });
  console.log(`    jobs: ${await waitForStatus(page, 'jobs-status', 'disconnected', /not available/)}`);
  await page.click('#tab-auth', { timeout });
  console.log(`    auth: ${await waitForStatus(page, 'auth-status', 'disconnected', /not available/)}`);
  console.log(`    login: ${await waitForStatus(page, 'auth-user', 'disconnected', /no login/)}`);
  for (const id of ['auth-username', 'auth-login-button', 'auth-connect', 'auth-send']) {
    if (!(await page.isDisabled(`#${id}`))) throw new Failure(`#${id} is enabled in an app without a login`);
  }
  await screenshot(page, 'not-available');
  await page.close();
}

await run(main, 'the tutorial page works in Chromium');
