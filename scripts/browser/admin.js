// Drives Debian's chromium through the admin pages as a venue's owner would:
// sign in, make a batch of 8 vouchers, print its sheet of cards to PDF, look
// at the overview, sign a guest out, and see every page on a phone's width. The end-to-end test
// (firmware/admin_e2e_test.go) runs it on the operator's side of the lab and
// judges the JSON it prints and the files it leaves:
//
//   PASSWORD=… node admin.js ADMIN-URL OUT-DIR GUEST-MAC
//
// OUT-DIR gets admin-overview.png, admin-vouchers.png, admin-sheet.png and
// admin-sheet.pdf (the A4 sheet as Chromium prints it).
//
// Needs playwright-core (npm ci here) and /usr/bin/chromium (or $CHROMIUM).
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function main() {
  const [base, dir, mac] = process.argv.slice(2);
  if (!base || !dir || !mac || !process.env.PASSWORD) {
    throw new Error('usage: PASSWORD=… node admin.js ADMIN-URL OUT-DIR GUEST-MAC');
  }
  const out = { console: [] };
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lobby-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-proxy-server',
    ],
    // A laptop at the front desk.
    viewport: { width: 1000, height: 700 },
    timeout: 30000,
  });
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(15000);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') out.console.push(m.text());
    });
    const submit = async (name) => {
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name }).first().click()]);
    };

    await page.goto(base + '/login', { waitUntil: 'load' });
    await page.getByLabel('Password').fill(process.env.PASSWORD);
    await submit('Sign in');
    out.afterLogin = { url: page.url(), title: await page.title() };

    await page.getByRole('link', { name: 'Vouchers' }).click();
    await page.waitForLoadState('load');
    await page.getByLabel('codes', { exact: true }).fill('8');
    await page.getByLabel('duration', { exact: true }).fill('2h');
    await page.getByLabel('quota', { exact: true }).fill('1GB');
    await page.getByLabel('note', { exact: true }).fill('Front desk');
    await submit('Make codes');
    out.made = { url: page.url(), message: await page.locator('p.ok').first().innerText() };
    await page.screenshot({ path: path.join(dir, 'admin-vouchers.png'), fullPage: true });

    // The batch's A4 sheet: printed as the browser prints it, and seen as
    // printed (without the bar that only the screen shows).
    await page.locator('p.ok').getByRole('link', { name: 'A4' }).click();
    await page.waitForLoadState('load');
    out.sheet = { url: page.url(), cards: await page.locator('.card').count(), qr: await page.locator('.card svg').count() };
    await page.pdf({ path: path.join(dir, 'admin-sheet.pdf'), preferCSSPageSize: true, printBackground: true });
    await page.emulateMedia({ media: 'print' });
    await page.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
    await page.screenshot({ path: path.join(dir, 'admin-sheet.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize({ width: 1000, height: 700 });

    await page.goto(base + '/clients', { waitUntil: 'load' });
    const row = page.locator('tr', { hasText: mac });
    out.clientRow = await row.innerText();
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), row.getByRole('button', { name: 'Sign out' }).click()]);
    out.signedOut = await page.locator('p.ok').first().innerText();

    await page.getByRole('link', { name: 'Overview' }).click();
    await page.waitForLoadState('load');
    out.overview = await page.innerText('main');
    await page.screenshot({ path: path.join(dir, 'admin-overview.png'), fullPage: true });

    // On a phone, no page is wider than the screen (tables scroll in
    // their own box).
    await page.setViewportSize({ width: 390, height: 844 });
    out.phoneWidths = {};
    for (const p of ['/', '/clients', '/vouchers', '/settings']) {
      await page.goto(base + p, { waitUntil: 'load' });
      out.phoneWidths[p] = await page.evaluate(() => document.documentElement.scrollWidth);
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
