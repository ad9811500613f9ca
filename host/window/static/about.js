/**
 * The About tab: versions, paths, what each plugin reports (ftrack.connect.plugin.debug-
 * information) and the environment, as support asks for them. GET /api/about the first time
 * the tab is shown and on Refresh; secrets arrive already redacted. "Copy" puts a plain-text
 * rendering of all of it on the clipboard, for a support ticket.
 *
 * Test hooks: #refresh-about, #copy-about, #about-copied (role=status), #about-error,
 * tables #about-versions, #about-paths, #about-plugins (tr[data-plugin]),
 * #about-environment (tr[data-name], sorted by name).
 */

import { $, api, h, none, setText, Unauthorized } from './dom.js';

export const aboutTab = { id: 'about', label: 'About', mount, render() {}, show };

let panelEl = null;
let about = null; // the last GET /api/about body
let loading = false;
let loaded = false;
let copiedTimer = 0;

const SECTIONS = [
  ['about-versions', 'Versions'],
  ['about-paths', 'Paths'],
  ['about-plugins', 'Plugins'],
  ['about-environment', 'Environment'],
];

function mount(panel) {
  panelEl = panel;
  panel.append(
    h('h2', { class: 'sr-only' }, 'About'),
    h('div', { class: 'toolbar' },
      h('p', { id: 'about-summary', class: 'summary' }, 'ftrack Connect'),
      h('div', { class: 'button-row' },
        h('p', { id: 'about-copied', class: 'copied', role: 'status' }),
        h('button', { id: 'refresh-about', type: 'button', class: 'btn', onclick: load }, 'Refresh'),
        h('button', { id: 'copy-about', type: 'button', class: 'btn', disabled: true, onclick: copy }, 'Copy to clipboard'))),
    h('div', { id: 'about-error', class: 'alert', role: 'alert' }),
    h('div', { id: 'about-body', class: 'about' }, SECTIONS.map(([id, title]) =>
      h('div', { class: `table-wrap about-section ${id}`, role: 'region', 'aria-labelledby': `${id}-caption`, tabindex: '0' },
        h('table', { id, class: 'data' },
          h('caption', { id: `${id}-caption` }, title),
          h('tbody', {}, h('tr', {}, h('td', { class: 'empty' }, 'Loading…'))))))),
  );
}

function show() {
  if (!loaded) load();
}

async function load() {
  if (loading) return;
  loading = true;
  loaded = true;
  const button = $('#refresh-about', panelEl);
  const hadFocus = document.activeElement === button;
  button.disabled = true;
  setText(button, 'Refreshing…');
  $('#about-body', panelEl).setAttribute('aria-busy', 'true');
  setText($('#about-error', panelEl), '');
  try {
    about = (await api('/api/about')) ?? {};
    renderAbout();
  } catch (err) {
    if (err instanceof Unauthorized) return;
    setText($('#about-error', panelEl), `Could not read the details: ${err.message}`);
  } finally {
    loading = false;
    button.disabled = false;
    setText(button, 'Refresh');
    $('#about-body', panelEl)?.removeAttribute('aria-busy');
    if (hadFocus && (document.activeElement === document.body || !document.activeElement)) button.focus();
  }
}

// ---------------------------------------------------------------------------
// Reading the answer (shared by the tables and the plain text)

const text = (value) => (typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value));

/** [name, value] pairs of an object, as given (or sorted). */
function pairs(object, sorted = false) {
  const entries = object && typeof object === 'object' && !Array.isArray(object) ? Object.entries(object) : [];
  return sorted ? entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : entries;
}

/** A path entry: one string, or a list of them (maybe empty). */
const pathList = (value) => (Array.isArray(value) ? value.map(text) : value == null || value === '' ? [] : [text(value)]);

const plugins = () => (Array.isArray(about?.debug_information) ? about.debug_information.filter((e) => e && typeof e === 'object') : []);

const kindOf = (entry) => (entry.kind != null ? text(entry.kind) : entry.core ? 'core' : '');

// ---------------------------------------------------------------------------
// Tables

function renderAbout() {
  const versions = pairs(about.versions);
  const connect = versions.find(([name]) => name === 'ftrack-connect');
  setText($('#about-summary', panelEl), connect ? `ftrack Connect ${text(connect[1])}` : 'ftrack Connect');

  fill('about-versions', ['Name', 'Version'], versions.map(([name, value]) =>
    h('tr', { dataset: { name } }, h('th', { scope: 'row' }, name), h('td', { class: 'mono' }, text(value) || none()))));

  fill('about-paths', ['Name', 'Path'], pairs(about.paths).map(([name, value]) => {
    const list = pathList(value);
    return h('tr', { dataset: { name } }, h('th', { scope: 'row' }, name),
      h('td', { class: 'mono' }, list.length ? list.map((path) => h('span', { class: 'line' }, path)) : none()));
  }));

  fill('about-plugins', ['Name', 'Version', 'Kind', 'Status', 'Path', 'Details'], plugins().map((entry) => {
    const status = entry.status != null ? text(entry.status) : '';
    const details = pairs(entry.debug_information);
    return h('tr', { dataset: { plugin: text(entry.name) } },
      h('th', { scope: 'row' }, text(entry.name) || none()),
      h('td', {}, text(entry.version) || none()),
      h('td', {}, kindOf(entry) || none()),
      h('td', { dataset: { status } }, status ? h('span', { class: 'badge', dataset: { status } }, status) : none()),
      h('td', { class: 'mono' }, text(entry.path) || none()),
      h('td', {}, details.length
        ? h('dl', { class: 'details-list' }, details.flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, text(value))]))
        : none()));
  }));

  fill('about-environment', ['Variable', 'Value'], pairs(about.environment, true).map(([name, value]) =>
    h('tr', { dataset: { name } }, h('th', { scope: 'row', class: 'mono' }, name), h('td', { class: 'mono' }, text(value)))));

  $('#copy-about', panelEl).disabled = false;
}

/** Put `rows` under column headings `columns` in table `id`. */
function fill(id, columns, rows) {
  const table = document.getElementById(id);
  table.querySelector('thead')?.remove();
  table.querySelector('caption').after(h('thead', {}, h('tr', {}, columns.map((name) => h('th', { scope: 'col' }, name)))));
  table.tBodies[0].replaceChildren(...(rows.length
    ? rows
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, 'Nothing reported.'))]));
}

// ---------------------------------------------------------------------------
// Copy

/** All of it as plain text: aligned name/value lines under one heading per section. */
export function plainText(body) {
  const lines = ['ftrack Connect: about', `Copied ${new Date().toISOString()}`];
  const section = (title, rows) => {
    lines.push('', title);
    if (!rows.length) lines.push('  (none)');
    const width = Math.min(32, Math.max(0, ...rows.map(([name]) => name.length)));
    for (const [name, values] of rows) {
      const list = values.length ? values : ['(none)'];
      list.forEach((value, i) => lines.push(`  ${(i ? '' : name).padEnd(width)}  ${value}`.trimEnd()));
    }
  };
  section('Versions', pairs(body.versions).map(([name, value]) => [name, [text(value)]]));
  section('Paths', pairs(body.paths).map(([name, value]) => [name, pathList(value)]));
  section('Plugins', plugins().map((entry) => [text(entry.name), [
    [text(entry.version), kindOf(entry), text(entry.status)].filter(Boolean).join(', '),
    ...(entry.path != null ? [`path: ${text(entry.path)}`] : []),
    ...pairs(entry.debug_information).map(([key, value]) => `${key}: ${text(value)}`),
  ]]));
  lines.push('', 'Environment');
  for (const [name, value] of pairs(body.environment, true)) lines.push(`  ${name}=${text(value)}`);
  return `${lines.join('\n')}\n`;
}

async function copy() {
  if (!about) return;
  const content = plainText(about);
  let said;
  try {
    await navigator.clipboard.writeText(content);
    said = 'Copied';
  } catch (err) {
    said = fallbackCopy(content) ? 'Copied' : `Not copied: the browser refused (${err?.message || 'no clipboard'})`;
  }
  const status = $('#about-copied', panelEl);
  setText(status, '');
  setText(status, said);
  clearTimeout(copiedTimer);
  copiedTimer = setTimeout(() => setText(status, ''), 6000);
}

/** The old way, for browsers without the async clipboard: a hidden textarea and "copy". */
function fallbackCopy(content) {
  const focused = document.activeElement;
  const area = h('textarea', { class: 'copy-buffer', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  area.value = content;
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand('copy');
  } catch {
    done = false;
  }
  area.remove();
  focused?.focus?.();
  return done;
}
