/**
 * The aggregator operator console: one self-contained HTML page (no external assets, no build
 * step) served by the aggregator's operator endpoint behind mutual TLS, in Japanese or English
 * (i18next, inlined; ./console-messages.ts), every time in JST (+09:00), events with their コマ. It polls `/status` and
 * `/events/<key>/series` and draws, per event, the target vs delivered curve as SVG — the picture
 * an operator watches during a dispatch — with the refusals and pending approvals beside it.
 *
 * The script is inline and pinned by its SHA-256 in the Content-Security-Policy, so the page
 * runs nothing else (no eval, no third-party origin, no inline handlers).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CONSOLE_MESSAGES, type ConsoleLanguage } from './console-messages.js';

/** i18next's browser build, inlined (the page loads nothing from elsewhere). */
const I18NEXT = readFileSync(join(dirname(createRequire(import.meta.url).resolve('i18next/package.json')), 'dist/umd/i18next.min.js'), 'utf8');

const SCRIPT = String.raw`
'use strict';
const $ = (sel) => document.querySelector(sel);
const NS = 'http://www.w3.org/2000/svg';
// Every time an operator reads is JST: ISO 8601 with +09:00, or HH:MM on a chart's axis.
const JST_MS = 9 * 3600e3;
const iso = (t) => new Date(t + JST_MS).toISOString().slice(0, 19) + '+09:00';
const hhmm = (t) => new Date(t + JST_MS).toISOString().slice(11, 16);
// The market's コマ: 30-minute blocks of the JST day, 1..48.
const koma = (t) => Math.floor(((t + JST_MS) % 86400e3) / 1800e3) + 1;
const kw = (w) => (w === null || w === undefined ? '–' : (w / 1000).toFixed(1) + ' kW');

/** ?lang= wins, then the language the server chose from Accept-Language, then the browser's list. */
function pickLanguage() {
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked === 'ja' || asked === 'en') return asked;
  const served = document.documentElement.dataset.lang;
  if (served === 'ja' || served === 'en') return served;
  for (const l of navigator.languages || [navigator.language]) {
    const tag = String(l).toLowerCase();
    if (tag === 'ja' || tag.startsWith('ja-')) return 'ja';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}
i18next.init({ lng: pickLanguage(), fallbackLng: 'en', resources: MESSAGES, initAsync: false, interpolation: { escapeValue: false } });
const t = (key, vars) => i18next.t(key, vars);

/** The page's fixed text (elements with data-i18n) in the current language. */
function applyLanguage() {
  document.documentElement.lang = i18next.language;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  document.title = t('title', { id: $('#who').textContent });
  for (const b of document.querySelectorAll('#lang button')) b.setAttribute('aria-pressed', String(b.dataset.lang === i18next.language));
}

function el(tag, attrs, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Target (dashed), instructed (dotted) and delivered (solid) power of one event, kW over JST time. */
function chart(samples) {
  const W = 640, H = 220, L = 56, R = 12, T = 12, B = 28;
  const svg = el('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': t('chart.label'), class: 'chart' });
  if (samples.length === 0) { svg.appendChild(el('svg:text', { x: L, y: H / 2 }, t('chart.waiting'))); return svg; }
  const t0 = samples[0].t, t1 = Math.max(samples[samples.length - 1].t, t0 + 1);
  // Axis ticks at 1, 2 or 5 × 10^k kW so that the labels are exact.
  const peak = Math.max(1, ...samples.map((s) => Math.max(s.targetW, s.instructedW || 0, s.deliveredW || 0))) * 1.05;
  const raw = peak / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  const max = step * 4;
  const x = (tt) => L + ((tt - t0) / (t1 - t0)) * (W - L - R);
  const y = (w) => T + (1 - w / max) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const w = (max * i) / 4;
    svg.appendChild(el('svg:line', { x1: L, x2: W - R, y1: y(w), y2: y(w), class: 'grid' }));
    svg.appendChild(el('svg:text', { x: L - 6, y: y(w) + 4, 'text-anchor': 'end', class: 'axis' }, String(+(w / 1000).toFixed(3))));
  }
  svg.appendChild(el('svg:text', { x: 4, y: T + 8, class: 'axis' }, t('chart.axis')));
  svg.appendChild(el('svg:text', { x: L, y: H - 8, class: 'axis', 'data-t': iso(t0) }, hhmm(t0) + ' ' + t('chart.time')));
  svg.appendChild(el('svg:text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'axis', 'data-t': iso(t1) }, hhmm(t1) + ' ' + t('chart.time')));
  const line = (key, cls) => {
    const pts = samples.filter((s) => s[key] !== null && s[key] !== undefined).map((s) => x(s.t).toFixed(1) + ',' + y(s[key]).toFixed(1));
    if (pts.length) svg.appendChild(el('svg:polyline', { points: pts.join(' '), class: cls, 'data-series': key }));
  };
  line('targetW', 'target'); line('instructedW', 'instructed'); line('deliveredW', 'delivered');
  return svg;
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(path + ': ' + res.status);
  return res.json();
}

function komaSpan(start, end) {
  const a = koma(start), b = koma(Math.max(start, end - 1));
  return a === b ? String(a) : a + '–' + b;
}

async function refresh() {
  try {
    const s = await getJson('status');
    $('#who').textContent = s.id;
    document.title = t('title', { id: s.id });
    $('#clock').textContent = iso(s.time);
    $('#fleet').textContent = t('fleet', { online: s.resources.online, total: s.resources.total, gateways: s.gateways.length, pending: s.pendingApprovals });
    const events = $('#events');
    events.replaceChildren();
    if (s.events.length === 0) events.appendChild(el('p', { class: 'muted' }, t('noEvents')));
    for (const e of s.events) {
      const series = await getJson('events/' + encodeURIComponent(e.key) + '/series');
      const pct = e.deliveredW !== null && e.targetW > 0 ? Math.round((e.deliveredW / e.targetW) * 100) + '%' : '–';
      const card = el('section', { class: 'event', 'data-key': e.key });
      card.appendChild(el('h2', {}, e.party + ' · ' + e.eventId + ' · ' + t('direction.' + e.direction) + ' ' + kw(e.targetW)));
      if (Number.isFinite(e.start) && Number.isFinite(e.end)) card.appendChild(el('p', { class: 'period' }, t('event.period', { start: iso(e.start), end: iso(e.end), koma: komaSpan(e.start, e.end) })));
      const state = t('event.state.' + e.state, { defaultValue: e.state });
      card.appendChild(el('p', { class: 'state ' + e.state }, t('event.line', { state, delivered: kw(e.deliveredW), pct, resources: e.resources, gateways: e.gateways })
        + (e.nonResponding.length ? t('event.nonResponding', { count: e.nonResponding.length }) : '')));
      card.appendChild(chart(series));
      events.appendChild(card);
    }
    const tbody = $('#refusals tbody');
    tbody.replaceChildren();
    for (const r of s.refusals.slice(-20).reverse()) {
      const tr = el('tr');
      for (const v of [iso(r.time), r.by, r.what, r.reason]) tr.appendChild(el('td', {}, v));
      tbody.appendChild(tr);
    }
    $('#error').textContent = '';
  } catch (err) {
    $('#error').textContent = t('error', { message: err.message });
  }
}
for (const b of document.querySelectorAll('#lang button')) {
  b.addEventListener('click', () => {
    i18next.changeLanguage(b.dataset.lang);
    const u = new URL(location.href);
    u.searchParams.set('lang', b.dataset.lang);
    history.replaceState(null, '', u);
    applyLanguage();
    refresh();
  });
}
applyLanguage();
refresh();
setInterval(refresh, 2000);
`.replace('MESSAGES', () => JSON.stringify(CONSOLE_MESSAGES));

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0; } h2 { font-size: 1rem; margin: 0 0 .3rem; }
.muted, #fleet { color: #5a6270; } #error { color: #b00020; }
.event { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.state { margin: 0 0 .5rem; } .state.active { color: #0a6b2d; } .state.refused, .state.cancelled { color: #b00020; }
svg.chart { max-width: 960px; display: block; } svg .grid { stroke: #e4e7ec; } svg .axis { font-size: 11px; fill: #5a6270; }
svg polyline { fill: none; stroke-width: 2; }
svg .target { stroke: #1d2330; stroke-dasharray: 6 4; } svg .instructed { stroke: #8a94a6; stroke-dasharray: 2 3; }
svg .delivered { stroke: #0b7a75; stroke-width: 2.5; }
table { border-collapse: collapse; background: #fff; } td, th { border: 1px solid #dde1e7; padding: .25rem .5rem; text-align: left; }
.legend span { margin-right: 1rem; } #lang { margin-left: auto; } #lang button[aria-pressed="true"] { font-weight: 600; } .period { margin: 0 0 .3rem; color: #5a6270; } .legend .t { border-bottom: 2px dashed #1d2330; } .legend .d { border-bottom: 3px solid #0b7a75; } .legend .i { border-bottom: 2px dotted #8a94a6; }
`;

const hash = (code: string): string => `'sha256-${createHash('sha256').update(code).digest('base64')}'`;

/** The Content-Security-Policy the page must be served with. */
export const CONSOLE_CSP = `default-src 'none'; script-src ${hash(I18NEXT)} ${hash(SCRIPT)}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The console HTML for the aggregator `title`; serve with `CONSOLE_CSP`. `lang` is the language a
 * server chose from the request's Accept-Language (`consoleLanguage`); without it the page follows
 * the browser's preferred languages. `?lang=ja|en` and the page's switch override both.
 */
export function consolePage(title: string, opts: { lang?: ConsoleLanguage } = {}): string {
  const lang = opts.lang ?? 'en';
  return `<!doctype html>
<html lang="${lang}"${opts.lang ? ` data-lang="${opts.lang}"` : ''}><head><meta charset="utf-8"><title>${escapeHtml(title)} · erab console</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<header><h1>erab · <span id="who">${escapeHtml(title)}</span></h1><span id="clock"></span><span id="fleet"></span><span id="error"></span>
<nav id="lang"><button type="button" data-lang="ja" lang="ja">日本語</button><button type="button" data-lang="en" lang="en">English</button></nav></header>
<p class="legend"><span class="t" data-i18n="legend.target">target</span><span class="i" data-i18n="legend.instructed">instructed</span><span class="d" data-i18n="legend.delivered">delivered</span></p>
<div id="events"><p class="muted" data-i18n="loading">Loading…</p></div>
<h2 data-i18n="refusals">Refusals</h2>
<table id="refusals"><thead><tr><th data-i18n="col.time">time (JST)</th><th data-i18n="col.by">by</th><th data-i18n="col.what">what</th><th data-i18n="col.reason">reason</th></tr></thead><tbody></tbody></table>
<script>${I18NEXT}</script>
<script>${SCRIPT}</script>
</body></html>`;
}
