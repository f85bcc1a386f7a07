/**
 * The aggregator operator console: one self-contained HTML page (no external assets, no build
 * step) served by the aggregator's operator endpoint behind mutual TLS, in Japanese or English
 * (i18next, inlined; ./console-messages.ts), every time in JST (+09:00), events with their コマ.
 * It reads the lists once (server-paged: the fleet is never loaded whole) and then applies the
 * deltas of the server-sent event stream. Views: events (target vs instructed vs delivered, as
 * figures and an SVG curve, with who, why, start and end, and Cancel), held commands (Approve /
 * Reject) and recent ones (a short command shown as short), a form to submit a command, the fleet (sites, gateways, devices
 * with search, filters and Admit / Reject / Quarantine / Release by admission state), alerts, incidents, vulnerability
 * findings and compliance when those routes are served, the audit log with its verification,
 * and refusals including TLS refusals.
 *
 * The script is inline and pinned by its SHA-256 in the Content-Security-Policy, so the page
 * runs nothing else (no eval, no third-party origin, no inline handlers).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CONSOLE_MESSAGES, type ConsoleLanguage } from './console-messages.js';
import { COMMANDS_SCRIPT } from './console-script/commands.js';
import { CORE_SCRIPT } from './console-script/core.js';
import { EVENTS_SCRIPT } from './console-script/events.js';
import { FLEET_SCRIPT } from './console-script/fleet.js';
import { LIVE_SCRIPT } from './console-script/live.js';
import { PANELS_SCRIPT } from './console-script/panels.js';

/** i18next's browser build, inlined (the page loads nothing from elsewhere). */
const I18NEXT = readFileSync(join(dirname(createRequire(import.meta.url).resolve('i18next/package.json')), 'dist/umd/i18next.min.js'), 'utf8');

/**
 * The page's one script, put together from the modules of ./console-script/ (each plain browser
 * JavaScript as text) with the messages inlined; the CSP pins its hash.
 */
const SCRIPT = [CORE_SCRIPT, COMMANDS_SCRIPT, EVENTS_SCRIPT, FLEET_SCRIPT, PANELS_SCRIPT, LIVE_SCRIPT].join('\n').replace('MESSAGES', () => JSON.stringify(CONSOLE_MESSAGES));

const STYLE = `
[hidden] { display: none !important; }
body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0; } h2 { font-size: 1rem; margin: 0 0 .3rem; } h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.muted, #fleet { color: #5a6270; } #error, .bad { color: #b00020; } .good { color: #0a6b2d; }
#live.on { color: #0a6b2d; } #live.off { color: #b00020; }
.event { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.event.short { border-color: #c25400; border-width: 2px; }
.state { margin: 0 0 .5rem; } .state.active { color: #0a6b2d; } .state.refused, .state.cancelled { color: #b00020; }
.short, td.cstate.short { color: #c25400; font-weight: 600; } td.cstate.executed, td.cstate.approved { color: #0a6b2d; } td.cstate.rejected, td.cstate.expired, td.cstate.failed { color: #b00020; } td.cstate.failed { font-weight: 600; }
svg.chart { max-width: 960px; display: block; } svg .grid { stroke: #e4e7ec; } svg .axis { font-size: 11px; fill: #5a6270; }
svg polyline { fill: none; stroke-width: 2; }
svg .target { stroke: #1d2330; stroke-dasharray: 6 4; } svg .instructed { stroke: #8a94a6; stroke-dasharray: 2 3; }
svg .delivered { stroke: #0b7a75; stroke-width: 2.5; }
table { border-collapse: collapse; background: #fff; margin: .3rem 0; } td, th { border: 1px solid #dde1e7; padding: .25rem .5rem; text-align: left; vertical-align: top; }
.mono { font-family: ui-monospace, monospace; font-size: 12px; } td.online.on { color: #0a6b2d; } td.online.off { color: #8a94a6; } td.admission.pending { color: #c25400; }
.reason-input { width: 12rem; } .actions button { margin-right: .3rem; } .tools { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin: .3rem 0; }
.legend span { margin-right: 1rem; } #lang { margin-left: auto; } #lang button[aria-pressed="true"], #fleet-tabs button[aria-pressed="true"] { font-weight: 600; } .period { margin: 0 0 .3rem; color: #5a6270; } .legend .t { border-bottom: 2px dashed #1d2330; } .legend .d { border-bottom: 3px solid #0b7a75; } .legend .i { border-bottom: 2px dotted #8a94a6; }
#audit td:nth-child(2), #recent td:first-child, #held td:nth-child(2), #held td:nth-child(7), #refusals td:first-child { white-space: nowrap; }
tr.sev-high td, tr.sev-critical td { color: #b00020; } tr.refused td { color: #b00020; }
#command-form input[type="number"] { width: 6rem; } #command-resources { width: 16rem; } #command-resources:disabled { opacity: .5; }
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
<header><h1>erab · <span id="who">${escapeHtml(title)}</span></h1><span id="clock"></span><span id="fleet"></span><span id="live"></span><span id="error"></span><span id="me"></span>
<nav id="lang"><button type="button" data-lang="ja" lang="ja">日本語</button><button type="button" data-lang="en" lang="en">English</button></nav></header>
<p id="notice" role="status"></p>
<h3 data-i18n="newCommand.title">New command</h3>
<p id="command-form-role" class="muted" hidden></p>
<form id="command-form" class="tools" novalidate hidden><select id="command-action" name="action"><option value="reduce" data-i18n="command.action.reduce">reduce</option><option value="increase" data-i18n="command.action.increase">increase</option><option value="release" data-i18n="command.action.release">release</option></select>
<label><span data-i18n="newCommand.power">power (kW)</span> <input id="command-power" name="powerKw" type="number" min="0" step="0.1" inputmode="decimal"></label>
<label><span data-i18n="newCommand.resources">resources</span> <input id="command-resources" name="resources" type="text" maxlength="4000" value="fleet" data-i18n-placeholder="newCommand.resourcesHint"></label>
<label><span data-i18n="newCommand.pool">or pool</span> <select id="command-pool" name="pool"><option value="" data-i18n="newCommand.noPool">— (the resources above)</option></select></label>
<label><span data-i18n="newCommand.duration">duration (min)</span> <input id="command-duration" name="durationMin" type="number" min="0" step="1" inputmode="numeric"></label>
<label><span data-i18n="newCommand.start">start (JST)</span> <input id="command-start" name="start" type="datetime-local" step="60"></label>
<input id="command-reason" name="reason" type="text" maxlength="500" class="reason-input" data-i18n-placeholder="newCommand.reason">
<button id="command-submit" type="submit" data-i18n="newCommand.submit">Submit</button></form>
<h3 data-i18n="held.title">Held commands</h3>
<p id="held-none" class="muted" data-i18n="held.none">No command is waiting for approval.</p>
<table id="held" hidden><thead><tr><th data-i18n="held.col.id">id</th><th data-i18n="held.col.submitted">submitted (JST)</th><th data-i18n="held.col.by">by</th><th data-i18n="held.col.what">what</th><th data-i18n="held.col.reason">reason</th><th data-i18n="held.col.why">why a second operator</th><th data-i18n="held.col.expires">expires (JST)</th><th></th></tr></thead><tbody></tbody></table>
<h3 data-i18n="events.title">Events</h3>
<p class="legend"><span class="t" data-i18n="legend.target">target</span><span class="i" data-i18n="legend.instructed">instructed</span><span class="d" data-i18n="legend.delivered">delivered</span></p>
<div id="events"><p class="muted" data-i18n="loading">Loading…</p></div>
<h3 data-i18n="recent.title">Recent commands</h3>
<table id="recent"><thead><tr><th data-i18n="col.time">time (JST)</th><th data-i18n="held.col.by">by</th><th data-i18n="held.col.what">what</th><th data-i18n="recent.state">state</th><th data-i18n="held.col.reason">reason</th></tr></thead><tbody></tbody></table>
<h3 data-i18n="fleetView.title">Fleet</h3>
<nav id="fleet-tabs" class="tools"><button type="button" data-tab="devices" aria-pressed="true" data-i18n="fleetView.devices">Devices</button><button type="button" data-tab="gateways" aria-pressed="false" data-i18n="fleetView.gateways">Gateways</button><button type="button" data-tab="sites" aria-pressed="false" data-i18n="fleetView.sites">Sites</button></nav>
<section id="devices"><div class="tools"><input id="devices-q" type="search" maxlength="100" data-i18n-placeholder="fleetView.search"><input id="devices-gateway" type="text" maxlength="128" data-i18n-placeholder="fleetView.gatewayFilter"><select id="devices-online"><option value="" data-i18n="fleetView.any">any</option><option value="true" data-i18n="fleetView.online">online</option><option value="false" data-i18n="fleetView.offline">offline</option></select><button type="button" class="prev" data-i18n="page.prev">‹ previous</button><button type="button" class="next" data-i18n="page.next">next ›</button><span class="count"></span></div>
<table><thead><tr><th data-i18n="fleetView.col.id">device</th><th data-i18n="fleetView.col.gateway">gateway</th><th data-i18n="fleetView.col.class">class</th><th data-i18n="fleetView.col.rated">rated down / up</th><th data-i18n="fleetView.col.online">online</th><th data-i18n="fleetView.col.admission">admission</th><th data-i18n="fleetView.col.version">version</th><th></th></tr></thead><tbody></tbody></table></section>
<section id="gateways" hidden><div class="tools"><input id="gateways-q" type="search" maxlength="100" data-i18n-placeholder="fleetView.search"><button type="button" class="prev" data-i18n="page.prev">‹ previous</button><button type="button" class="next" data-i18n="page.next">next ›</button><span class="count"></span></div>
<table><thead><tr><th data-i18n="fleetView.col.gateway">gateway</th><th data-i18n="fleetView.col.resources">resources</th><th data-i18n="fleetView.col.lastReport">last report (JST)</th><th data-i18n="fleetView.col.reports">reports</th><th data-i18n="fleetView.col.signed">signed</th><th data-i18n="fleetView.col.version">version</th></tr></thead><tbody></tbody></table></section>
<section id="sites" hidden><div class="tools"><input id="sites-q" type="search" maxlength="100" data-i18n-placeholder="fleetView.search"><input id="sites-pool" type="text" maxlength="128" data-i18n-placeholder="fleetView.poolFilter"><button type="button" class="prev" data-i18n="page.prev">‹ previous</button><button type="button" class="next" data-i18n="page.next">next ›</button><span class="count"></span></div>
<table><thead><tr><th data-i18n="fleetView.col.site">site</th><th data-i18n="fleetView.col.tsoArea">TSO area</th><th data-i18n="fleetView.col.pool">pool</th></tr></thead><tbody></tbody></table></section>
<section id="alerts" class="panel" hidden><h3 data-i18n="alerts.title">Alerts</h3><div class="body"></div></section>
<section id="incidents" class="panel" hidden><h3 data-i18n="incidents.title">Incidents</h3><div class="body"></div></section>
<section id="vuln" class="panel" hidden><h3 data-i18n="vuln.title">Vulnerability findings</h3><div class="body"></div></section>
<section id="compliance" class="panel" hidden><h3 data-i18n="compliance.title">Compliance</h3><div class="body"></div></section>
<h3 data-i18n="refusals">Refusals</h3>
<div class="tools"><select id="refusals-kind"><option value="" data-i18n="refusal.all">all</option><option value="dispatch" data-i18n="refusal.kind.dispatch">dispatch</option><option value="tls" data-i18n="refusal.kind.tls">TLS</option><option value="request" data-i18n="refusal.kind.request">request</option></select></div>
<table id="refusals"><thead><tr><th data-i18n="col.time">time (JST)</th><th data-i18n="col.by">by</th><th data-i18n="col.what">what</th><th data-i18n="col.reason">reason</th><th data-i18n="col.kind">kind</th></tr></thead><tbody></tbody></table>
<h3 data-i18n="audit.title">Audit log</h3>
<p id="audit-verification" class="muted"></p>
<section id="audit"><div class="tools"><input id="audit-action" type="search" maxlength="100" data-i18n-placeholder="audit.actionFilter"><select id="audit-outcome"><option value="" data-i18n="audit.anyOutcome">any outcome</option><option value="success" data-i18n="audit.outcome.success">success</option><option value="failure" data-i18n="audit.outcome.failure">failure</option><option value="refused" data-i18n="audit.outcome.refused">refused</option></select><button type="button" class="prev" data-i18n="page.newer">‹ newer</button><button type="button" class="next" data-i18n="page.older">older ›</button></div>
<table><thead><tr><th>#</th><th data-i18n="col.time">time (JST)</th><th data-i18n="col.by">by</th><th data-i18n="audit.action">action</th><th data-i18n="col.what">what</th><th data-i18n="audit.outcomeCol">outcome</th><th data-i18n="col.reason">reason</th></tr></thead><tbody></tbody></table></section>
<script>${I18NEXT}</script>
<script>${SCRIPT}</script>
</body></html>`;
}
