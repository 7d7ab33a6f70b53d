// Checks that the AsyncAPI docs page falls back to links to the document when the
// AsyncAPI viewer cannot load or render, in a real Chromium.
//
//   node tests/browser/asyncapi_fallback.mjs <CDN docs page URL> <Local docs page URL>
//
// The first page loads the component from the CDN (DocsAssets::Cdn), the second from the
// app (DocsAssets::Local); either may be mounted under a prefix. Four cases, each must show
// the message "The AsyncAPI viewer could not be loaded (no internet?)" and the links to
// asyncapi.json and asyncapi.yaml next to the page, which must answer the document:
//   1. CDN page, no internet: every request outside the app fails (as on a closed network);
//   2. CDN page, the CDN answers other bytes: the subresource integrity check rejects them;
//   3. Local page, the component's render throws;
//   4. Local page, the component throws later, having rendered nothing.
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (saves asyncapi-fallback*.png
// there), STEP_TIMEOUT_MS (default 15000).

import { Failure, launch, log, run, screenshot, timeout } from './common.mjs';

const [cdnUrl, localUrl] = process.argv.slice(2);
if (!cdnUrl || !localUrl) {
  console.error('usage: node asyncapi_fallback.mjs <CDN docs page URL> <Local docs page URL>');
  process.exit(2);
}

const MESSAGE = 'The AsyncAPI viewer could not be loaded (no internet?). The document itself:';

// A stand-in for the component's script that defines the global and fails in `render`.
const throwing = (how) =>
  `window.AsyncApiStandalone = { render: function () { ${how} } };`;

const CASES = [
  {
    name: 'no internet (CDN page)',
    url: cdnUrl,
    // Nothing outside the app answers, as on this closed network.
    outside: (route) => route.abort('internetdisconnected'),
    expectOutside: true,
  },
  {
    name: 'integrity mismatch (CDN page)',
    url: cdnUrl,
    outside: (route) =>
      route.fulfill({
        status: 200,
        headers: { 'access-control-allow-origin': '*' },
        contentType: route.request().url().endsWith('.css') ? 'text/css' : 'text/javascript',
        body: route.request().url().endsWith('.css') ? 'body { color: red }' : throwing('throw new Error("tampered")'),
      }),
    expectOutside: true,
    expectConsole: /integrity/,
  },
  {
    name: 'render throws (Local page)',
    url: localUrl,
    script: throwing('throw new Error("render failed on purpose")'),
    expectConsole: /render failed on purpose/,
  },
  {
    name: 'the viewer throws later, having rendered nothing (Local page)',
    url: localUrl,
    script: throwing('setTimeout(function () { throw new Error("late failure on purpose"); });'),
    expectPageError: /late failure on purpose/,
  },
];

async function check(browser, { name, url, outside, expectOutside, script, expectConsole, expectPageError }) {
  log(`${name}: ${url}`);
  const origin = new URL(url).origin;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const external = [];
  const consoleErrors = [];
  const pageErrors = [];
  try {
    await context.route('**/*', (route) => {
      const requested = route.request().url();
      if (requested.startsWith(`${origin}/`) || requested.startsWith('data:')) {
        if (script && new URL(requested).pathname.endsWith('/asyncapi/assets/index.js')) {
          return route.fulfill({ status: 200, contentType: 'text/javascript', body: script });
        }
        return route.continue();
      }
      external.push(requested);
      return outside ? outside(route) : route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    const response = await page.goto(url, { timeout, waitUntil: 'load' });
    if (!response || !response.ok()) throw new Failure(`GET ${url} answered ${response ? response.status() : 'nothing'}`);

    const fallback = page.locator('#asyncapi-fallback');
    try {
      await fallback.waitFor({ state: 'visible', timeout });
    } catch {
      const text = await page.evaluate(() => document.body.innerText).catch(() => '');
      await screenshot(page, 'asyncapi-fallback-missing');
      throw new Failure(
        `${name}: the fallback message did not show within ${timeout} ms; page text: ${JSON.stringify(text.slice(0, 1000))}; ` +
          `console errors: ${JSON.stringify(consoleErrors)}; page errors: ${JSON.stringify(pageErrors)}`,
      );
    }
    const text = (await fallback.innerText()).replace(/\s+/g, ' ').trim();
    console.log(`    shows: ${JSON.stringify(text)}`);
    if (!text.startsWith(MESSAGE)) throw new Failure(`${name}: the fallback says ${JSON.stringify(text)}`);

    const links = await fallback.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.href, text: a.textContent })));
    const wanted = ['asyncapi.json', 'asyncapi.yaml'].map((file) => new URL(file, url));
    if (links.length !== 2 || links.some((link, i) => link.href !== wanted[i].href || link.text !== wanted[i].pathname)) {
      throw new Failure(`${name}: the links are ${JSON.stringify(links)}, not to ${wanted.map(String).join(' and ')}`);
    }
    for (const link of links) {
      const answer = await context.request.get(link.href);
      const body = await answer.text();
      const ok = link.href.endsWith('.json')
        ? answer.ok() && JSON.parse(body).asyncapi === '3.0.0'
        : answer.ok() && body.startsWith('asyncapi: 3.0.0\n');
      if (!ok) throw new Failure(`${name}: ${link.href} answered ${answer.status()}: ${body.slice(0, 200)}`);
      console.log(`    ${link.text} -> ${answer.status()} ${answer.headers()['content-type']}`);
    }
    await screenshot(page, `asyncapi-fallback-${CASES.findIndex((c) => c.name === name) + 1}`, false);

    // The JSON link, followed as a reader would.
    await fallback.locator('a', { hasText: 'asyncapi.json' }).click({ timeout });
    await page.waitForURL(wanted[0].href, { timeout });
    const followed = await page.evaluate(() => JSON.parse(document.body.innerText).asyncapi);
    if (followed !== '3.0.0') throw new Failure(`${name}: following the JSON link shows ${followed}`);
    console.log(`    followed the JSON link to ${page.url()}`);

    if (expectOutside && !external.length) throw new Failure(`${name}: the page did not try the CDN`);
    if (!expectOutside && external.length) throw new Failure(`${name}: the page asked for ${external.join(', ')}`);
    if (expectConsole && !consoleErrors.some((e) => expectConsole.test(e))) {
      throw new Failure(`${name}: no console error matching ${expectConsole}: ${JSON.stringify(consoleErrors)}`);
    }
    const unexpected = pageErrors.filter((e) => !expectPageError?.test(e));
    if (unexpected.length || (expectPageError && !pageErrors.length)) {
      throw new Failure(`${name}: page errors ${JSON.stringify(pageErrors)}`);
    }
    console.log(`    tried outside the app: ${external.length ? external.join(', ') : 'nothing'}`);
  } finally {
    await context.close();
  }
}

async function main() {
  const browser = await launch();
  try {
    console.log(`    browser version ${browser.version()}`);
    for (const each of CASES) await check(browser, each);
  } finally {
    await browser.close();
  }
}

await run(main, 'the AsyncAPI docs page links to the document when the viewer cannot load');
