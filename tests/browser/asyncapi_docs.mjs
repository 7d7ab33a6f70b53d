// Checks the AsyncAPI docs page of the System Echo app in a real Chromium.
//
//   node tests/browser/asyncapi_docs.mjs <url of the docs page, e.g. http://127.0.0.1:8000/asyncapi> [assets]
//
// The app must serve the page with the React component from the app itself: `assets` is
// the folder of its files next to the page, `asyncapi/assets` (DocsAssets::Local, the
// default) or `asyncapi/assets/3.2.1` (DocsAssets::Embedded). The script blocks every
// request that does not go to the app, and fails if the page tries one, or does not load
// the script and stylesheet from that folder, or shows its "could not be loaded" message. It waits for the component to render the document and checks that the
// channel `system` (its address and description), every operation and message of the
// served /asyncapi.json, and the handlers' expected replies once expanded are shown, and
// that there are no console or page errors.
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves asyncapi-docs*.png there),
// STEP_TIMEOUT_MS (default 15000), DUMP_TEXT=1 (prints the rendered text).

import { join } from 'node:path';
import { Failure, launch, log, run, screenshot, timeout } from './common.mjs';

const [docsUrl, assets = 'asyncapi/assets'] = process.argv.slice(2);
if (!docsUrl) {
  console.error('usage: node asyncapi_docs.mjs <docs-page-url> [assets folder next to the page]');
  process.exit(2);
}
const origin = new URL(docsUrl).origin;


// Texts the top of the page must show, each with what it stands for.
const EXPECTED = [
  ['Chanx tutorial', 'the title'],
  ['0.1.0', 'the version'],
  ['The Chanx tutorial app, in Rust.', 'the description'],
  ['Operations', 'the operations section'],
  ['Messages', 'the messages section'],
  ['/ws/system', 'the address of channel system'],
  ['System Messages Consumer - Direct WebSocket without channel layers', 'the description of channel system'],
];

// The handlers of channel `system`: the message each takes and those it may answer with.
const HANDLERS = [
  {
    id: 'system.handle_system',
    summary: 'Handle message user send to system',
    takes: 'UserMessage',
    replies: ['SystemEchoMessage', 'ErrorMessage', 'CompleteMessage'],
  },
  { id: 'system.handle_ping', summary: 'Handle ping requests', takes: 'PingMessage', replies: ['PongMessage', 'ErrorMessage', 'CompleteMessage'] },
];

const byId = (id) => `[id=${JSON.stringify(id)}]`;

// The element the component renders for operation `id` of the document.
function operationSelector(id, operation) {
  const kind = operation.action === 'send' ? 'send' : operation.reply ? 'reply' : 'receive';
  return byId(`operation-${kind}-${id}`);
}

// Checks that every operation and every component message of `document` is on the page,
// each operation with its summary and the titles of its messages.
async function checkEverything(page, api) {
  const messages = api.components.messages;
  const titleOf = (ref) => {
    const key = ref.$ref.split('/').pop();
    const channelMessage = api.channels[ref.$ref.split('/')[2]]?.messages?.[key];
    const componentKey = channelMessage?.$ref?.split('/').pop() ?? key;
    return messages[componentKey]?.title ?? componentKey;
  };
  const missing = [];
  for (const [id, operation] of Object.entries(api.operations)) {
    const selector = operationSelector(id, operation);
    const element = page.locator(selector);
    if ((await element.count()) !== 1) {
      missing.push(`operation ${id} (${selector})`);
      continue;
    }
    const text = await element.innerText();
    const wanted = [operation.summary, id, ...operation.messages.map(titleOf)].filter(Boolean);
    const absent = wanted.filter((want) => !text.includes(want));
    if (absent.length) missing.push(`in operation ${id}: ${absent.map((w) => JSON.stringify(w)).join(', ')}`);
    console.log(`    operation ${id}: ${absent.length ? 'MISSING ' + absent.join(', ') : 'ok'} (${operation.messages.map(titleOf).join(', ')})`);
  }
  for (const [key, message] of Object.entries(messages)) {
    const element = page.locator(byId(`message-${key}`));
    if ((await element.count()) !== 1 || !(await element.innerText()).includes(message.title ?? key)) {
      missing.push(`message ${key}`);
    }
  }
  console.log(`    ${Object.keys(messages).length} component messages listed: ${Object.keys(messages).join(', ')}`);
  if (missing.length) throw new Failure(`the docs page does not show:\n  ${missing.join('\n  ')}`);
}

// Expands the expected replies of a handler and checks them.
async function checkHandler(page, api, { id, summary, takes, replies }) {
  const operation = api.operations[id];
  if (!operation) throw new Failure(`the document has no operation ${id}: ${Object.keys(api.operations).join(', ')}`);
  const element = page.locator(operationSelector(id, operation));
  const before = await element.innerText();
  for (const want of [summary, takes]) {
    if (!before.includes(want)) throw new Failure(`operation ${id} does not show ${JSON.stringify(want)}: ${before}`);
  }
  await element.getByText('Expected Reply Messages', { exact: true }).click({ timeout });
  try {
    await page.waitForFunction(
      ([selector, replies]) => {
        const text = document.querySelector(selector)?.innerText ?? '';
        const after = text.slice(text.indexOf('Expected Reply Messages'));
        return replies.every((reply) => after.includes(reply));
      },
      [operationSelector(id, operation), replies],
      { timeout },
    );
  } catch {
    const text = await element.innerText();
    throw new Failure(`operation ${id} does not list the replies ${replies.join(', ')} once expanded: ${text}`);
  }
  console.log(`    ${id}: takes ${takes}, replies ${replies.join(', ')}`);
  return element;
}

async function main() {
  const browser = await launch();
  const problems = [];
  const external = [];
  const local = [];
  try {
    console.log(`    browser version ${browser.version()}`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Only the app may be asked for anything: the page must work without internet.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) {
        local.push(url);
        return route.continue();
      }
      external.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.url()} answered ${response.status()}`);
    });

    log(`opening ${docsUrl}`);
    const response = await page.goto(docsUrl, { timeout, waitUntil: 'load' });
    if (!response || !response.ok()) throw new Failure(`GET ${docsUrl} answered ${response ? response.status() : 'nothing'}`);
    console.log(`    title: ${JSON.stringify(await page.title())}`);

    log('waiting for the AsyncAPI component to render the document');
    try {
      await page.waitForFunction(
        () => {
          const root = document.getElementById('asyncapi');
          return root && root.innerText.includes('/ws/system') && root.innerText.includes('SystemEchoMessage');
        },
        null,
        { timeout },
      );
    } catch (error) {
      const text = await page.evaluate(() => document.body.innerText).catch(() => '');
      await screenshot(page, 'asyncapi-docs');
      throw new Failure(
        `the docs page did not render the document within ${timeout} ms (${error.message.split('\n')[0]}); ` +
          `problems: ${JSON.stringify(problems)}; page text: ${JSON.stringify(text.slice(0, 2000))}`,
      );
    }
    const text = await page.evaluate(() => document.getElementById('asyncapi').innerText);
    if (process.env.DUMP_TEXT) console.log(`--- rendered text ---\n${text}\n--- end ---`);

    log('checking the top of the page');
    const missing = EXPECTED.filter(([want]) => !text.includes(want));
    for (const [want, what] of EXPECTED) {
      console.log(`    ${text.includes(want) ? 'ok     ' : 'MISSING'} ${what}: ${JSON.stringify(want)}`);
    }
    if (missing.length) {
      throw new Failure(`the docs page does not show ${missing.map(([w, what]) => `${what} ${JSON.stringify(w)}`).join(', ')}`);
    }
    const server = `ws://${new URL(docsUrl).host}/`;
    if (!text.includes(server)) throw new Failure(`the docs page does not show the server ${server}`);
    await screenshot(page, 'asyncapi-docs-top', false);

    log('checking every operation and message of /asyncapi.json');
    const api = await page.evaluate(async () => (await fetch('asyncapi.json')).json());
    const channels = Object.keys(api.channels);
    if (channels.join() !== 'system') throw new Failure(`expected the one channel system, got ${channels.join(', ')}`);
    const foreign = Object.keys(api.operations).filter((id) => !id.startsWith('system.'));
    if (foreign.length) throw new Failure(`operations outside channel system: ${foreign.join(', ')}`);
    await checkEverything(page, api);

    log('checking the handlers of channel system and their expected replies');
    let element;
    for (const handler of HANDLERS) element = await checkHandler(page, api, handler);
    await screenshot(page, 'asyncapi-docs');
    if (process.env.SCREENSHOT_DIR) {
      const path = join(process.env.SCREENSHOT_DIR, 'asyncapi-docs-handle-ping.png');
      await element.screenshot({ path });
      console.log(`    screenshot saved to ${path}`);
    }

    console.log(`    requests to the app: ${local.length} (${[...new Set(local.map((u) => new URL(u).pathname))].join(', ')})`);
    if (external.length) throw new Failure(`the page asked for URLs outside the app: ${external.join(', ')}`);
    for (const file of ['index.js', 'default.min.css']) {
      const want = new URL(`${assets}/${file}`, docsUrl).href;
      if (!local.includes(want)) throw new Failure(`the page did not load the component from the app (${want})`);
    }
    if (await page.locator('#asyncapi-fallback').isVisible()) {
      throw new Failure('the page shows its "could not be loaded" message although the viewer rendered');
    }
    if (problems.length) throw new Failure(`the page reported problems:\n  ${problems.join('\n  ')}`);
  } finally {
    await browser.close();
  }
}

await run(main, 'the AsyncAPI docs page renders the document in Chromium');
