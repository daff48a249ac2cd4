// check_report.js — opens a swaplab report in headless chromium (playwright-core), checks that every
// image loaded, every inline SVG chart has a non-empty box, the page has lang, alt text on every
// image, headings in order and no console errors, and saves a screenshot.
// usage: node check_report.js REPORT.html SCREENSHOT.png [full|basic] [CSS selector to scroll to before the screenshot]
// Playwright API: https://playwright.dev/docs/api/class-browsertype#browser-type-launch
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

async function main() {
  const [report, shot, mode, at] = process.argv.slice(2);
  if (!report || !shot) {
    console.error('usage: node check_report.js REPORT.html SCREENSHOT.png [full]');
    process.exit(2);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'swaplab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  const problems = [];
  try {
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push('request failed: ' + r.url().slice(0, 80)));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('file:') && !u.startsWith('data:')) problems.push('network request: ' + u);
    });
    await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });
    const facts = await page.evaluate(() => {
      const imgs = [...document.images];
      const svgs = [...document.querySelectorAll('svg')];
      const heads = [...document.querySelectorAll('h1,h2,h3,h4')].map((h) => Number(h.tagName[1]));
      return {
        lang: document.documentElement.lang,
        images: imgs.length,
        broken: imgs.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.alt || i.src.slice(0, 40)),
        noAlt: imgs.filter((i) => !i.alt || !i.alt.trim()).length,
        svgs: svgs.length,
        emptySvgs: svgs.filter((s) => { const b = s.getBoundingClientRect(); return !(b.width > 0 && b.height > 0); }).length,
        svgMarks: svgs.map((s) => s.querySelectorAll('path,polyline,line,rect').length),
        headings: heads,
        scripts: document.scripts.length,
        external: [...document.querySelectorAll('[src],link[href]')].map((e) => e.getAttribute('src') || e.getAttribute('href'))
          .filter((u) => u && !u.startsWith('data:') && !u.startsWith('#')),
      };
    });
    if (facts.lang !== 'en') problems.push('html lang is "' + facts.lang + '"');
    if (facts.broken.length) problems.push(facts.broken.length + ' image(s) did not load: ' + facts.broken.slice(0, 3).join('; '));
    if (facts.noAlt) problems.push(facts.noAlt + ' image(s) without alt text');
    if (facts.emptySvgs) problems.push(facts.emptySvgs + ' SVG chart(s) with an empty box');
    if (facts.svgMarks.some((n) => n < 2)) problems.push('an SVG chart draws nothing');
    if (facts.external.length) problems.push('external resources: ' + facts.external.join(', '));
    if (facts.headings[0] !== 1) problems.push('the first heading is not h1');
    for (let i = 1; i < facts.headings.length; i++)
      if (facts.headings[i] > facts.headings[i - 1] + 1) problems.push('heading level skips from h' + facts.headings[i - 1] + ' to h' + facts.headings[i]);
    if (mode === 'full') {
      if (facts.images < 4) problems.push('only ' + facts.images + ' images (expected previews, swaps, heatmaps)');
      if (facts.svgs < 3) problems.push('only ' + facts.svgs + ' charts (expected loss, fidelity, ROC, ...)');
    }
    if (at) await page.evaluate((sel) => { const e = document.querySelector(sel); if (e) e.scrollIntoView(); }, at);
    await page.screenshot({ path: shot, fullPage: false });
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4', printBackground: false });
    if (pdf.length < 1000) problems.push('print to PDF produced ' + pdf.length + ' bytes');
    console.log(`report: ${facts.images} images, ${facts.svgs} SVG charts, headings ${facts.headings.join('')}, ` +
                `PDF ${pdf.length} bytes, screenshot ${shot}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (problems.length) {
    for (const p of problems) console.error('FAIL: ' + p);
    process.exit(1);
  }
}

main().catch((e) => { console.error('FAIL: ' + (e && e.stack || e)); process.exit(1); });
