// Drives Debian's chromium through the portal like a guest's phone: open the
// portal page, save a screenshot, press the button, follow where it leads.
// The end-to-end test (firmware/portal_e2e_test.go) runs it inside a lab
// client's network namespace and judges the JSON it prints:
//
//   [CODE=ABCDE-FGHJK] node portal.js START-URL SCREENSHOT.png EXPECTED-URL [STATUS-SCREENSHOT.png]
//
// Without CODE it presses "Accept"; with CODE it types the code into the
// code field, as a guest would (in lower case), and presses its button.
//
// Needs playwright-core (npm ci here) and /usr/bin/chromium (or $CHROMIUM);
// playwright-core downloads no browser.
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function main() {
  const [start, shot, expected, statusShot] = process.argv.slice(2);
  if (!start || !shot || !expected) {
    throw new Error('usage: node portal.js START-URL SCREENSHOT.png EXPECTED-URL [STATUS-SCREENSHOT.png]');
  }
  const out = { navigations: [], console: [] };
  // A fresh profile every run: no cache, no cookies, no HSTS from before.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lobby-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-proxy-server',
    ],
    // A phone: the page is made for captive-portal sheets.
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    timeout: 30000,
  });
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') out.console.push(m.text());
    });
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) out.navigations.push(`${r.method()} ${r.url()}`);
    });

    const res = await page.goto(start, { waitUntil: 'load', timeout: 15000 });
    out.portal = {
      url: page.url(),
      status: res ? res.status() : 0,
      title: await page.title(),
      text: await page.innerText('body'),
      buttons: await page.getByRole('button').count(),
      // Wider than the viewport means sideways scrolling on a phone.
      scrollWidth: await page.evaluate(() => document.documentElement.scrollWidth),
    };
    await page.screenshot({ path: shot, fullPage: true });

    const began = Date.now();
    await Promise.all([
      page.waitForURL(expected, { waitUntil: 'load', timeout: 15000 }).catch((e) => {
        out.waitError = e.message.split('\n')[0];
      }),
      (async () => {
        if (process.env.CODE) {
          await page.getByLabel('Code').fill(process.env.CODE.toLowerCase());
          await page.getByRole('button', { name: /code/i }).click();
        } else {
          await page.getByRole('button', { name: /accept/i }).click();
        }
      })(),
    ]);
    out.final = {
      url: page.url(),
      ms: Date.now() - began,
      text: await page.innerText('body').catch(() => ''),
    };

    if (statusShot) {
      await page.goto(new URL('/status', start).href, { waitUntil: 'load', timeout: 15000 });
      out.status = { text: await page.innerText('body') };
      await page.screenshot({ path: statusShot, fullPage: true });
    }
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + '\n');
  },
  (err) => {
    process.stdout.write(JSON.stringify({ error: String(err && err.stack ? err.stack : err) }) + '\n');
    process.exit(1);
  },
);
