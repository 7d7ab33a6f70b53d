// What the browser scripts share: step logging, failures, screenshots, launching the
// system Chromium with the flags this closed-network machine needs, and the exit code.

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
