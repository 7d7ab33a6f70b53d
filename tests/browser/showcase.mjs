// Drives the Showcase panel of the tutorial page in a real Chromium: opening the tab
// connects its four sockets (chat, reliable chat, notifications, analytics), each shows
// its connect message where the tutorial has one, and a line sent on each card comes back
// as that consumer's broadcast; a second page's chat line reaches the first.
//
//   node tests/browser/showcase.mjs <base-url of the showcase example app>
//
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves a PNG of the panel
// there), STEP_TIMEOUT_MS (default 15000). Exits non-zero with a precise message on any failure.

import { Failure, launch, log, open, run, screenshot, timeout, waitForEntry, waitForStatus } from './common.mjs';

const [baseUrl] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node showcase.mjs <base-url>');
  process.exit(2);
}

// Each card: its id prefix, its connect message (if any), what to send and what comes back.
const CARDS = [
  { prefix: 'sc-chat', welcome: '📢 Someone joined the chat', send: 'hello', back: '💬 hello' },
  {
    prefix: 'sc-reliable',
    welcome: '🔒 Reliable chat connection established!',
    send: 'kept',
    back: '📨 kept',
  },
  { prefix: 'sc-notify', welcome: '🔔 Connected to notifications!', send: 'ping all', back: '🔔 Notification: ping all' },
  { prefix: 'sc-analytics', send: 'page_view:/home', back: '📊 Analytics: page_view:/home' },
];

async function send(page, prefix, text) {
  await page.fill(`#${prefix}-input`, text, { timeout });
  await page.click(`#${prefix}-send`, { timeout });
}

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
    const page = await open(context, problems, baseUrl, []);
    log('Showcase: opening the tab connects the four sockets');
    await page.click('#tab-showcase', { timeout });
    for (const { prefix, welcome } of CARDS) {
      await waitForStatus(page, `${prefix}-status`, 'connected');
      if (welcome) await waitForEntry(page, `${prefix}-log`, { kind: 'msg-server', text: welcome });
    }

    log('Showcase: a line sent on each card comes back as its broadcast');
    for (const { prefix, send: text, back } of CARDS) {
      await send(page, prefix, text);
      await waitForEntry(page, `${prefix}-log`, { kind: 'msg-server', text: back });
    }

    log('Showcase: a second page joins; its chat line reaches the first');
    const other = await open(context, problems, baseUrl, []);
    await other.click('#tab-showcase', { timeout });
    await waitForStatus(other, 'sc-chat-status', 'connected');
    await send(other, 'sc-chat', 'from the other page');
    await waitForEntry(page, 'sc-chat-log', { kind: 'msg-server', text: '💬 from the other page' });
    await screenshot(page, 'showcase');
    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
}

await run(main, 'the Showcase panel works in Chromium');
