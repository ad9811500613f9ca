/**
 * The Plugins tab: every plugin the host found, its status, and a "Reload plugins" button.
 * Its data is the shell's `state.plugins` (GET /api/plugins and the live stream), so the
 * tab only renders; reloading goes through the shell's `update`.
 *
 * Test hooks: #plugin-summary, #reload-plugins, #reload-error, #plugins-table, rows
 * tr[data-plugin], status cells td[data-status].
 */

import { $, api, h, none, setText, Unauthorized } from './dom.js';

/** The shell: { state, update, fresh }, given at mount. */
let shell = null;

export const pluginsTab = { id: 'plugins', label: 'Plugins', mount: mountPlugins, render: renderPlugins };

const PLUGIN_COLUMNS = ['Name', 'Version', 'Kind', 'Status', 'Subscriptions', 'Reloads', 'Details'];
let renderedPlugins = null; // the array last put into the table

function mountPlugins(panel, app) {
  shell = app;
  panel.append(
    h('h2', { class: 'sr-only' }, 'Plugins'),
    h('div', { class: 'toolbar' },
      h('p', { id: 'plugin-summary', class: 'summary', role: 'status' }, 'Loading plugins…'),
      h('button', { id: 'reload-plugins', type: 'button', class: 'btn', onclick: reloadPlugins }, 'Reload plugins')),
    h('div', { id: 'reload-error', class: 'alert', role: 'alert' }),
    // Focusable so keyboard users can scroll it when the table overflows on narrow windows.
    h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': 'plugins-caption', tabindex: '0' },
      h('table', { id: 'plugins-table', class: 'plugins' },
        h('caption', { id: 'plugins-caption' }, 'Installed plugins'),
        h('thead', {}, h('tr', {}, PLUGIN_COLUMNS.map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', { id: 'plugins-body' }))),
  );
}

function renderPlugins(panel, state) {
  const list = state.plugins;
  setText($('#plugin-summary', panel), list ? summarize(list) : 'Loading plugins…');

  const button = $('#reload-plugins', panel);
  button.disabled = state.reloading;
  setText(button, state.reloading ? 'Reloading…' : 'Reload plugins');
  setText($('#reload-error', panel), state.reloadError ?? '');

  if (!list || list === renderedPlugins) return;
  renderedPlugins = list;
  const body = $('#plugins-body', panel);
  keepFocus(body, () => {
    body.replaceChildren(...(list.length
      ? list.map(pluginRow)
      : [h('tr', {}, h('td', { colspan: PLUGIN_COLUMNS.length, class: 'empty' }, 'No plugins found.'))]));
  });
}

function summarize(list) {
  const counts = { loaded: 0, failed: 0, skipped: 0 };
  for (const plugin of list) if (Object.hasOwn(counts, plugin.status)) counts[plugin.status] += 1;
  return `${counts.loaded} loaded, ${counts.failed} failed, ${counts.skipped} skipped`;
}

function pluginRow(plugin) {
  const status = String(plugin.status ?? 'unknown');
  return h('tr', { dataset: { plugin: String(plugin.name ?? '') } },
    h('th', { scope: 'row' },
      h('span', { class: 'name' }, plugin.name ?? none()),
      plugin.path ? h('span', { class: 'path' }, plugin.path) : null),
    h('td', {}, plugin.version ?? none()),
    h('td', {}, plugin.kind ?? none()),
    h('td', { dataset: { status } }, h('span', { class: 'badge', dataset: { status } }, status)),
    h('td', { class: 'num' }, count(plugin.subscriptions)),
    h('td', { class: 'num' }, count(plugin.reloads)),
    h('td', { class: 'details' }, pluginDetails(plugin)),
  );
}

function pluginDetails(plugin) {
  const parts = [];
  if (plugin.error) parts.push(h('p', { class: 'label' }, 'Error'), h('pre', { class: 'error-text' }, plugin.error));
  if (plugin.reason) parts.push(h('p', { class: 'reason' }, h('span', { class: 'label' }, 'Skipped: '), plugin.reason));
  const warnings = Array.isArray(plugin.warnings) ? plugin.warnings : [];
  if (warnings.length) {
    parts.push(
      h('p', { class: 'label' }, warnings.length === 1 ? 'Warning' : `Warnings (${warnings.length})`),
      h('ul', { class: 'warnings' }, warnings.map((text) => h('li', {}, text))),
    );
  }
  // Native plugins keep old libraries mapped after a reload; worth knowing about.
  if (plugin.retired_libraries > 0) {
    const n = plugin.retired_libraries;
    parts.push(h('p', { class: 'muted' }, `${n} retired ${n === 1 ? 'library' : 'libraries'} (${formatBytes(plugin.retired_library_bytes)})`));
  }
  return parts.length ? parts : none();
}

const count = (n) => (Number.isFinite(n) ? String(n) : none());

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return 'size unknown';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

/**
 * Rebuild `container` and put focus back on the same control of the same
 * plugin row (matched by data-plugin and data-focus), or else on the nearest
 * focusable ancestor, so live updates do not throw keyboard users to the top.
 */
function keepFocus(container, rebuild) {
  const active = document.activeElement;
  if (!active || !container.contains(active)) return rebuild();
  const plugin = active.closest('[data-plugin]')?.dataset.plugin;
  const control = active.dataset.focus;
  rebuild();
  const row = plugin == null ? null : container.querySelector(`[data-plugin="${CSS.escape(plugin)}"]`);
  const target = (row && control && row.querySelector(`[data-focus="${CSS.escape(control)}"]`))
    ?? container.parentElement.closest('[tabindex]');
  target?.focus();
}

async function reloadPlugins() {
  const { state, update, fresh } = shell;
  if (state.reloading) return;
  const button = $('#reload-plugins');
  const hadFocus = document.activeElement === button;
  update({ reloading: true, reloadError: null });
  let patch;
  try {
    const body = await api('/api/plugins/reload', { method: 'POST' });
    fresh.plugins = true;
    patch = { plugins: Array.isArray(body?.plugins) ? body.plugins : [] };
  } catch (err) {
    if (err instanceof Unauthorized) return;
    patch = { reloadError: `Reload failed: ${err.message}` };
  }
  update({ ...patch, reloading: false });
  // Disabling the focused button drops focus to <body> in some browsers.
  if (hadFocus && (document.activeElement === document.body || !document.activeElement)) button.focus();
}
