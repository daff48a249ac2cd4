// check_report.js — opens a swaplab report in headless chromium (playwright-core), checks that every
// image loaded and is shown at a readable size, every inline SVG chart has a non-empty box and round
// tick labels, the page has lang, alt text on every image, headings in order, no console errors, no
// sideways scroll at 390 and 800 px, the page and its assets folder within a size budget, and saves
// screenshots at 1280 and 390 px.
// usage: node check_report.js REPORT.html SCREENSHOT.png [full|basic] [options]
//   --budget-mb N   the page plus the folders beside it (assets) under N MB (default 5)
//   --at SELECTOR   scroll to this element before the screenshots
// The 390 px screenshot is SCREENSHOT with "-390" before ".png".
// Playwright API: https://playwright.dev/docs/api/class-browsertype#browser-type-launch
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require('playwright-core');

function dirBytes(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + dirBytes(path.join(p, e)), 0);
}

// The tick labels of one axis are round: plain decimals (no exponent), evenly spaced by a step of
// 1, 2 or 5 times a power of ten, each a whole multiple of the step. Returns a problem or null.
function badAxis(labels) {
  if (labels.some((t) => !/^-?\d+(\.\d+)?$/.test(t))) return 'not plain numbers: ' + labels.join(' ');
  const v = labels.map(Number);
  if (v.length < 2) return null;
  const step = v[1] - v[0];
  const mag = Math.pow(10, Math.floor(Math.log10(Math.abs(step)) + 1e-9));
  const f = Math.round(Math.abs(step) / mag * 1000) / 1000;
  if (![1, 2, 5, 10].includes(f)) return 'step ' + step + ': ' + labels.join(' ');
  for (let i = 1; i < v.length; i++)
    if (Math.abs(v[i] - v[i - 1] - step) > Math.abs(step) * 1e-6) return 'uneven: ' + labels.join(' ');
  if (v.some((x) => Math.abs(x / step - Math.round(x / step)) > 1e-6)) return 'not multiples of ' + step + ': ' + labels.join(' ');
  return null;
}

async function main() {
  const args = process.argv.slice(2);
  const pos = [];
  let budgetMb = 5, at = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--budget-mb') budgetMb = Number(args[++i]);
    else if (args[i] === '--at') at = args[++i];
    else pos.push(args[i]);
  }
  const [report, shot, mode] = pos;
  if (!report || !shot || !(budgetMb > 0)) {
    console.error('usage: node check_report.js REPORT.html SCREENSHOT.png [full|basic] [--budget-mb N] [--at SELECTOR]');
    process.exit(2);
  }
  const problems = [];
  // the page and what it links to beside it: the report's folder holds the page and its assets
  const page_bytes = fs.statSync(report).size;
  const base = path.basename(report);
  const dir = path.dirname(path.resolve(report));
  const assets = base === 'index.html' ? path.join(dir, 'assets') : path.join(dir, base.replace(/\..*$/, '') + '-assets');
  const total = page_bytes + (fs.existsSync(assets) ? dirBytes(assets) : 0);
  if (total > budgetMb * 1e6) problems.push(`page + assets are ${(total / 1e6).toFixed(2)} MB, over the budget of ${budgetMb} MB`);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'swaplab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  const shot390 = shot.replace(/\.png$/, '') + '-390.png';
  let summary = '';
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
        // shown smaller than its own pixels by more than 2x, or a face tile under 64 px
        small: imgs.filter((i) => { const b = i.getBoundingClientRect(); return b.width * 2 < i.naturalWidth || b.width < 48; })
          .map((i) => `${i.alt.slice(0, 50)} (${Math.round(i.getBoundingClientRect().width)} px of ${i.naturalWidth})`),
        svgs: svgs.length,
        emptySvgs: svgs.filter((s) => { const b = s.getBoundingClientRect(); return !(b.width > 0 && b.height > 0); }).length,
        svgMarks: svgs.map((s) => s.querySelectorAll('path,polyline,line,rect').length),
        // per chart and axis (x labels are centred, y labels end at the axis)
        axes: svgs.flatMap((s) => ['middle', 'end'].map((a) =>
          [...s.querySelectorAll('text.tick')].filter((t) => t.getAttribute('text-anchor') === a).map((t) => t.textContent))),
        gridHeads: [...document.querySelectorAll('table.grid thead th')].map((t) => t.textContent),
        videos: [...document.querySelectorAll('video')].map((v) => v.getAttribute('src')),
        links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#')),
        headings: heads,
        scripts: document.scripts.length,
        external: [...document.querySelectorAll('[src],link[href]')].map((e) => e.getAttribute('src') || e.getAttribute('href'))
          .filter((u) => u && !u.startsWith('data:') && !u.startsWith('#') && (/^[a-z]+:/i.test(u) || u.startsWith('//'))),
      };
    });
    if (facts.lang !== 'en') problems.push('html lang is "' + facts.lang + '"');
    if (facts.broken.length) problems.push(facts.broken.length + ' image(s) did not load: ' + facts.broken.slice(0, 3).join('; '));
    if (facts.noAlt) problems.push(facts.noAlt + ' image(s) without alt text');
    if (facts.small.length) problems.push(facts.small.length + ' image(s) shown too small at 1280 px: ' + facts.small.slice(0, 3).join('; '));
    if (facts.emptySvgs) problems.push(facts.emptySvgs + ' SVG chart(s) with an empty box');
    if (facts.svgMarks.some((n) => n < 2)) problems.push('an SVG chart draws nothing');
    const nticks = facts.axes.reduce((n, a) => n + a.length, 0);
    for (const a of facts.axes) { const why = badAxis(a); if (why) problems.push('axis ticks are not round: ' + why); }
    if (facts.external.length) problems.push('external resources: ' + facts.external.join(', '));
    for (const h of facts.links.concat(facts.videos)) {
      if (!h) continue;
      const target = path.resolve(dir, decodeURIComponent(h));
      if (!fs.existsSync(target)) problems.push('link to a missing file: ' + h);
    }
    if (facts.headings[0] !== 1) problems.push('the first heading is not h1');
    for (let i = 1; i < facts.headings.length; i++)
      if (facts.headings[i] > facts.headings[i - 1] + 1) problems.push('heading level skips from h' + facts.headings[i - 1] + ' to h' + facts.headings[i]);
    if (mode === 'full') {
      if (facts.images < 4) problems.push('only ' + facts.images + ' images (expected previews, swaps, heatmaps)');
      if (facts.svgs < 3) problems.push('only ' + facts.svgs + ' charts (expected loss, fidelity, ROC, ...)');
      if (nticks < 10) problems.push('only ' + nticks + ' tick labels (class "tick") in the charts');
      if (!facts.gridHeads.includes('input') || !facts.gridHeads.some((t) => /decoder/.test(t)))
        problems.push('the preview grids have no column labels (input, each decoder): ' + facts.gridHeads.join('|'));
    }
    if (at) await page.evaluate((sel) => { const e = document.querySelector(sel); if (e) e.scrollIntoView(); }, at);
    await page.screenshot({ path: shot, fullPage: false });
    // narrow screens: nothing may make the page scroll sideways, and face tiles keep a readable size
    for (const w of [800, 390]) {
      await page.setViewportSize({ width: w, height: 900 });
      const m = await page.evaluate(() => {
        const d = document.documentElement, vw = d.clientWidth;
        const wide = [...document.body.querySelectorAll('*')].filter((e) => {
          if (e.closest('.wide')) return false;
          const b = e.getBoundingClientRect();
          return b.width > 0 && b.right > vw + 1;
        }).map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
        const tiles = [...document.querySelectorAll('table.grid img')].map((i) => i.getBoundingClientRect().width);
        return { scroll: d.scrollWidth, vw, wide: [...new Set(wide)].slice(0, 5), minTile: tiles.length ? Math.min(...tiles) : null };
      });
      if (m.scroll > m.vw) problems.push(`at ${w} px the page scrolls sideways (${m.scroll} px wide): ${m.wide.join(', ')}`);
      if (m.minTile !== null && m.minTile < 40) problems.push(`at ${w} px a face tile is ${m.minTile.toFixed(0)} px wide`);
      if (w === 390) {
        if (at) await page.evaluate((sel) => { const e = document.querySelector(sel); if (e) e.scrollIntoView(); }, at);
        await page.screenshot({ path: shot390, fullPage: false });
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4', printBackground: false });
    if (pdf.length < 1000) problems.push('print to PDF produced ' + pdf.length + ' bytes');
    summary = `report: ${(total / 1e6).toFixed(2)} MB with assets (page ${(page_bytes / 1e6).toFixed(2)} MB), ` +
              `${facts.images} images, ${facts.svgs} SVG charts, ${nticks} ticks, ${facts.videos.length} videos, ` +
              `headings ${facts.headings.join('')}, PDF ${pdf.length} bytes, screenshots ${shot} ${shot390}`;
    console.log(summary);
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
