/**
 * The console script's base (browser JavaScript, as text): language, JST times and コマ, DOM and
 * fetch helpers. console-page.ts puts the modules of this folder together into the one inline
 * script whose SHA-256 the Content-Security-Policy pins. Plain strings, no template literals.
 */
export const CORE_SCRIPT = String.raw`
'use strict';
const $ = (sel) => document.querySelector(sel);
const NS = 'http://www.w3.org/2000/svg';
// Every time an operator reads is JST: ISO 8601 with +09:00, or HH:MM on a chart's axis.
const JST_MS = 9 * 3600e3;
const iso = (t) => (t === null || t === undefined || !Number.isFinite(Number(t)) ? '–' : new Date(Number(t) + JST_MS).toISOString().slice(0, 19) + '+09:00');
const isoOf = (s) => (typeof s === 'string' ? iso(Date.parse(s)) : iso(s));
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

function el(tag, attrs, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
const td = (text, attrs) => el('td', attrs, text === undefined || text === null ? '–' : String(text));
function button(label, cls, onClick) {
  const b = el('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await onClick(); } catch (err) { notice(err.message, true); } finally { b.disabled = false; }
  });
  return b;
}
/**
 * The operator this page is for (GET /api/me: id, role, the roles it grants, the least role of each
 * action route); null until read, or when it cannot be read (then every action shows and the server decides).
 */
let me = null;
/** True when the operator's role allows the action route \`METHOD /path/:param\` (the server still checks). */
function may(route) {
  if (!me) return true;
  const need = me.needs[route];
  return !need || me.grants.includes(need);
}
async function loadMe() {
  try { me = await getJson('/api/me'); } catch (err) { me = null; }
  drawMe();
}
/** The reason an operator typed next to an action, or the console's default one. */
const reasonOf = (input) => (input && input.value.trim()) || t('action.defaultReason');

/** One line at the top: what the last action did, or why it was refused. */
function notice(text, bad) {
  const n = $('#notice');
  n.textContent = text;
  n.className = bad ? 'bad' : 'good';
  // What the notice is about, for a reader that is not a person (set by the action that wrote it).
  delete n.dataset.command;
  delete n.dataset.state;
  delete n.dataset.device;
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) {
    const err = new Error(path + ': ' + res.status);
    err.status = res.status;
    throw err;
  }
  return res.json();
}
/** A refusal in the page's language: the API's keyed text ({key, params}) when it has one, else its {error}. */
function refusalText(json) {
  if (!json) return '';
  if (typeof json.key === 'string' && i18next.exists('errors.' + json.key)) return t('errors.' + json.key, json.params || {});
  return json.error || '';
}
/** POST/PATCH with a JSON body; the refusal in the page's language when refused. */
async function send(method, path, body) {
  const res = await fetch(path, { method, cache: 'no-store', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (e) { json = undefined; }
  if (!res.ok) throw new Error(t('action.refused', { status: res.status, message: refusalText(json) || text || path }));
  return json;
}
const enc = encodeURIComponent;
/** Runs fn once calls have stopped for ms (typing in a search box). */
function debounce(fn, ms) {
  let timer;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}
/** Runs fn at most once per ms, after the first call of each period (work that a stream of deltas triggers). */
function throttle(fn, ms) {
  let timer = null;
  return () => { if (timer === null) timer = setTimeout(() => { timer = null; fn(); }, ms); };
}
`;
