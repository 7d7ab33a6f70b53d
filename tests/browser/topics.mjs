// Drives the Topics panel of the tutorial page in a real Chromium, two pages as two users
// over one hub socket each: both join a room and see each other present, a post of one
// reaches the other with the room's next seq (the raw frames show topic, ref and seq), a
// refused room is an error, leaving tells the other, and the room's own route posts to
// the same room without envelopes (and refuses the room it must).
//
//   node tests/browser/topics.mjs <base-url of the topics example app>
//
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves a PNG of the panel
// there), STEP_TIMEOUT_MS (default 15000). Exits non-zero with a precise message on any failure.

import { Failure, launch, log, open, run, screenshot, timeout, waitForEntry, waitForStatus } from './common.mjs';

const [baseUrl] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node topics.mjs <base-url>');
  process.exit(2);
}

// Opens the page as `user`, connects the hub and joins `room`.
async function joinAs(context, problems, user, room) {
  const page = await open(context, problems, baseUrl, []);
  await page.click('#tab-topics', { timeout });
  await page.fill('#topics-user', user, { timeout });
  await page.click('#topics-connect', { timeout });
  await waitForStatus(page, 'topics-status', 'connected');
  await page.fill('#topics-room', room, { timeout });
  await page.click('#topics-enter', { timeout });
  await waitForEntry(page, 'topics-log', { kind: 'msg-info', text: `Subscribed to room:${room}` });
  await waitForEntry(page, 'topics-log', { kind: 'msg-info', text: `Subscribed to presence:${room}` });
  return page;
}

// Waits until the room `room` is listed with `members` present.
async function waitForMembers(page, room, members) {
  try {
    await page.waitForFunction(
      ([room, members]) => document.querySelector(`#topics-rooms li[data-room="${room}"] span`)?.textContent === members,
      [room, members],
      { timeout },
    );
  } catch {
    const rooms = await page.$$eval('#topics-rooms li', (els) => els.map((el) => el.textContent));
    throw new Failure(`${page.url()} does not list ${room} with ${JSON.stringify(members)}: rooms ${JSON.stringify(rooms)}`);
  }
}

async function post(page, prefix, text) {
  await page.fill(`#${prefix}-input`, text, { timeout });
  await page.click(`#${prefix}-send`, { timeout });
}

// The seq of the line `text` shown in the log `logId`.
async function seqOf(page, logId, text) {
  const entry = await waitForEntry(page, logId, { kind: 'msg-server', contains: text });
  return Number(entry.data.seq);
}

async function main() {
  const browser = await launch();
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 1400 } });
    log('Topics: ann joins the lobby and is present; the room state came first');
    const ann = await joinAs(context, problems, 'ann', 'lobby');
    await waitForMembers(ann, 'lobby', 'ann');
    await waitForEntry(ann, 'topics-frames', { contains: '"topic":"room:lobby","ref":"1"' });
    await waitForEntry(ann, 'topics-frames', { contains: '← {"action":"room_state"' });

    log('Topics: bob joins from another page; both see both present');
    const bob = await joinAs(context, problems, 'bob', 'lobby');
    await waitForMembers(bob, 'lobby', 'ann, bob');
    await waitForMembers(ann, 'lobby', 'ann, bob');

    log("Topics: ann's post reaches bob as a push with a seq; bob's answer has the next seq");
    await post(ann, 'topics', 'hello bob');
    const first = await seqOf(bob, 'topics-log', 'ann: hello bob');
    await waitForEntry(bob, 'topics-frames', { contains: `"topic":"room:lobby","seq":${first}` });
    await waitForEntry(ann, 'topics-log', { kind: 'msg-info', contains: `Posted as #${first} (ref ` });
    await post(bob, 'topics', 'hi ann');
    const second = await seqOf(ann, 'topics-log', 'bob: hi ann');
    if (second !== first + 1) throw new Failure(`the second post has seq ${second}, not ${first + 1}`);

    log('Topics: the room staff is refused to ann');
    await ann.fill('#topics-room', 'staff', { timeout });
    await ann.click('#topics-enter', { timeout });
    await waitForEntry(ann, 'topics-log', {
      kind: 'msg-error',
      text: "Error: unauthorized: Not allowed to subscribe to 'room:staff'",
    });
    await waitForEntry(ann, 'topics-frames', { contains: '"reason":"unauthorized"' });

    log('Topics: bob leaves the lobby; ann sees him gone');
    await bob.click('#topics-leave', { timeout });
    await waitForEntry(bob, 'topics-log', { kind: 'msg-info', text: 'Unsubscribed from room:lobby' });
    await waitForMembers(ann, 'lobby', 'ann');
    if (await bob.$('#topics-rooms li')) throw new Failure("bob's page still lists a room after leaving it");

    log("Topics: bob posts on the lobby's own route; ann sees it, and ann's answer comes back there");
    await bob.click('#solo-connect', { timeout });
    await waitForStatus(bob, 'solo-status', 'connected');
    await waitForEntry(bob, 'solo-log', { kind: 'msg-info', text: 'Subscribed to room:lobby by the route' });
    await waitForEntry(bob, 'solo-log', { kind: 'msg-server', text: `#${second} bob: hi ann` });
    await post(bob, 'solo', 'from the route');
    const third = await seqOf(ann, 'topics-log', 'bob: from the route');
    if (third !== second + 1) throw new Failure(`the route's post has seq ${third}, not ${second + 1}`);
    await post(ann, 'topics', 'seen it');
    await waitForEntry(bob, 'solo-log', { kind: 'msg-server', text: `#${third + 1} ann: seen it` });
    await screenshot(ann, 'topics');

    log("Topics: the staff room's own route is closed with 4403");
    await bob.click('#solo-disconnect', { timeout });
    await waitForStatus(bob, 'solo-status', 'idle');
    await bob.fill('#solo-room', 'staff', { timeout });
    await bob.click('#solo-connect', { timeout });
    await waitForEntry(bob, 'solo-log', { kind: 'msg-error', contains: 'unauthorized' });
    await waitForStatus(bob, 'solo-status', 'disconnected', /4403/);
    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
}

await run(main, 'the Topics panel works in Chromium');
