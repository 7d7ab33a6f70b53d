// Drives the Authenticated panel of the tutorial page in a real Chromium: refusals before
// logging in (the HTTP status of /ws/private, the `authentication` frame and close 4403 of
// /ws/chanx_auth), a wrong password, logging in (an HttpOnly session cookie), both sockets
// welcoming and echoing with the user's name, and logging out.
//
//   node tests/browser/authenticated.mjs <base-url of the authenticated example app>
//
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves a PNG of the panel
// there), STEP_TIMEOUT_MS (default 15000). Exits non-zero with a precise message on any failure.

import {
  Failure,
  launch,
  log,
  logEntries,
  open,
  run,
  screenshot,
  timeout,
  waitForEntry,
  waitForStatus,
} from './common.mjs';

const [baseUrl] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node authenticated.mjs <base-url>');
  process.exit(2);
}

const NO_CREDENTIALS = 'Log in first: no session cookie and no ?token=';
// The refusals the page causes on purpose: the browser reports them on the console.
const EXPECTED_FAILURES = ['/ws/private', '/auth/check', '/login'];

async function connect(page, path) {
  await page.selectOption('#auth-socket', path, { timeout });
  await page.click('#auth-connect', { timeout });
}

async function send(page, text) {
  await page.fill('#auth-input', text, { timeout });
  await page.click('#auth-send', { timeout });
  await waitForEntry(page, 'auth-log', { kind: 'msg-user', text });
}

async function logIn(page, username, password) {
  await page.fill('#auth-username', username, { timeout });
  await page.fill('#auth-password', password, { timeout });
  await page.click('#auth-login-button', { timeout });
}

async function countEntries(page, text) {
  return (await logEntries(page, 'auth-log')).filter((entry) => entry.endsWith(`: ${text}`)).length;
}

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    log(`opening ${baseUrl}: System Chat works in this app too`);
    const page = await open(context, problems, baseUrl, EXPECTED_FAILURES);
    await waitForEntry(page, 'system-log', { kind: 'msg-server', text: '🔧 System: Connection established!' });

    log('Authenticated: the tab says nobody is logged in');
    await page.click('#tab-auth', { timeout });
    await waitForStatus(page, 'auth-user', 'idle', /^not logged in$/);
    await waitForStatus(page, 'auth-status', 'idle');

    log('Authenticated: /ws/private before logging in is refused before the upgrade, with HTTP 401');
    await connect(page, '/ws/private');
    console.log(`    status: ${await waitForStatus(page, 'auth-status', 'disconnected', /^refused: HTTP 401$/)}`);
    await waitForEntry(page, 'auth-log', {
      kind: 'msg-error',
      text: `Refused before the upgrade: HTTP 401 Unauthorized: ${NO_CREDENTIALS}`,
    });
    if (await page.isDisabled('#auth-connect')) throw new Failure('#auth-connect stays disabled after a refusal');

    log('Authenticated: /ws/chanx_auth before logging in opens, then sends `authentication` and closes with 4403');
    await connect(page, '/ws/chanx_auth');
    await waitForEntry(page, 'auth-log', {
      kind: 'msg-error',
      text: `Authentication refused: 403 Forbidden: ${NO_CREDENTIALS}`,
    });
    console.log(`    status: ${await waitForStatus(page, 'auth-status', 'disconnected', /close code 4403/)}`);

    log('Authenticated: a wrong password is refused');
    await logIn(page, 'alice', 'nope');
    await waitForEntry(page, 'auth-log', {
      kind: 'msg-error',
      text: 'Login refused: HTTP 401 Unauthorized: Wrong username or password',
    });
    await waitForStatus(page, 'auth-user', 'idle', /^not logged in$/);

    log('Authenticated: alice logs in; the session cookie is HttpOnly and SameSite=Strict');
    await logIn(page, 'alice', 'wonderland');
    await waitForStatus(page, 'auth-user', 'connected', /^logged in as alice$/);
    await waitForEntry(page, 'auth-log', { kind: 'msg-info', contains: 'Logged in as alice: session cookie set' });
    const cookie = (await context.cookies(baseUrl)).find((c) => c.name === 'session');
    if (!cookie || !cookie.httpOnly || cookie.sameSite !== 'Strict' || cookie.path !== '/') {
      throw new Failure(`the session cookie is not HttpOnly; SameSite=Strict; Path=/: ${JSON.stringify(cookie)}`);
    }
    const visible = await page.evaluate(() => document.cookie);
    if (visible.includes('session=')) throw new Failure(`the page's script can read the session cookie: ${visible}`);

    log('Authenticated: /ws/private welcomes alice and echoes with her name');
    await connect(page, '/ws/private');
    await waitForStatus(page, 'auth-status', 'connected');
    await waitForEntry(page, 'auth-log', { kind: 'msg-server', text: '🔐 Welcome, alice!' });
    await send(page, 'hello private');
    await waitForEntry(page, 'auth-log', { kind: 'msg-server', text: '🔐 alice: hello private' });
    await page.click('#auth-disconnect', { timeout });
    await waitForStatus(page, 'auth-status', 'idle', /disconnected/);

    log('Authenticated: /ws/chanx_auth welcomes alice too and echoes');
    await connect(page, '/ws/chanx_auth');
    await waitForStatus(page, 'auth-status', 'connected');
    await send(page, 'hello chanx');
    await waitForEntry(page, 'auth-log', { kind: 'msg-server', text: '🔐 alice: hello chanx' });
    const welcomes = await countEntries(page, '🔐 Welcome, alice!');
    if (welcomes !== 2) throw new Failure(`expected a welcome from each socket, got ${welcomes}`);

    log('Authenticated: another page of the same browser is logged in as alice (the cookie)');
    const other = await open(context, problems, baseUrl, EXPECTED_FAILURES);
    await other.click('#tab-auth', { timeout });
    await waitForStatus(other, 'auth-user', 'connected', /^logged in as alice$/);
    await other.close();
    await screenshot(page, 'authenticated');

    log('Authenticated: alice logs out; /ws/private is refused again');
    await page.click('#auth-logout', { timeout });
    await waitForStatus(page, 'auth-user', 'idle', /^not logged in$/);
    await waitForEntry(page, 'auth-log', { kind: 'msg-info', contains: 'Logged out' });
    await page.click('#auth-disconnect', { timeout });
    await waitForStatus(page, 'auth-status', 'idle', /disconnected/);
    await connect(page, '/ws/private');
    await waitForStatus(page, 'auth-status', 'disconnected', /^refused: HTTP 401$/);
    const refusals = await countEntries(page, `Refused before the upgrade: HTTP 401 Unauthorized: ${NO_CREDENTIALS}`);
    if (refusals !== 2) throw new Failure(`expected a second refusal after logging out, got ${refusals} in all`);

    console.log('    log:');
    for (const entry of await logEntries(page, 'auth-log')) console.log(`      ${entry}`);
    await screenshot(page, 'authenticated-logged-out');
    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
}

await run(main, 'the Authenticated panel works in Chromium');
