/**
 * The Plugins tab: every plugin the host found, its status, and a "Reload plugins" button.
 * Its data is the shell's `state.plugins` (GET /api/plugins and the live stream), so the
 * tab only renders; reloading goes through the shell's `update`.
 *
 * It also changes the plugin directory (see plugin_folders.rs): "Open plugin folder" shows
 * where plugins go (and opens it where there is a desktop); a .zip dropped on the install
 * zone, or chosen there, is installed (asking before replacing a folder of that name); a
 * plugin that is not built in can be removed, after a confirmation in the page (never a
 * dialog). Each answer's plugin list goes to the shell at once. The outcome of an install
 * or a removal is said in one place, #install-message.
 *
 * Test hooks: #plugin-summary, #reload-plugins, #reload-error, #plugins-table, rows
 * tr[data-plugin], status cells td[data-status]; #open-plugin-folder, #plugin-folder-path;
 * #install-plugin, input#plugin-archive, #install-message[data-outcome] (installing,
 * installed, exists, kept, confirm-remove, removing, removed, error), #replace-plugin,
 * #keep-plugin, button.remove-plugin[data-plugin], #confirm-remove, #cancel-remove.
 */

import { $, api, h, none, request, setText, Unauthorized, acceptDrops, hasFiles } from './dom.js';

/** The shell: { state, update, fresh }, given at mount. */
let shell = null;

export const pluginsTab = { id: 'plugins', label: 'Plugins', mount: mountPlugins, render: renderPlugins };

const PLUGIN_COLUMNS = ['Name', 'Version', 'Kind', 'Status', 'Subscriptions', 'Reloads', 'Last reload', 'Details'];
let renderedPlugins = null; // the array last put into the table

function mountPlugins(panel, app) {
  shell = app;
  panel.append(
    h('h2', { class: 'sr-only' }, 'Plugins'),
    h('div', { class: 'toolbar' },
      h('p', { id: 'plugin-summary', class: 'summary', role: 'status' }, 'Loading plugins…'),
      h('div', { class: 'button-row' },
        h('button', { id: 'open-plugin-folder', type: 'button', class: 'btn', onclick: openPluginFolder }, 'Open plugin folder'),
        h('button', { id: 'reload-plugins', type: 'button', class: 'btn', onclick: reloadPlugins }, 'Reload plugins'))),
    h('div', { id: 'reload-error', class: 'alert', role: 'alert' }),
    h('div', { id: 'plugin-folder', class: 'plugin-folder', role: 'status', hidden: true },
      h('p', {}, h('span', { class: 'field-label' }, 'Plugin folder: '), h('code', { id: 'plugin-folder-path', class: 'folder-path' })),
      h('p', { id: 'plugin-folder-note', class: 'muted' })),
    installZone(),
    h('div', { id: 'install-message', class: 'install-message', role: 'status', tabindex: '-1' }),
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
      plugin.path ? h('span', { class: 'path' }, plugin.path) : null,
      removable(plugin) ? h('button', {
        type: 'button', class: 'btn btn-small remove-plugin', 'aria-label': `Remove ${plugin.name}`,
        dataset: { plugin: plugin.name, focus: 'remove' }, onclick: () => askRemove(plugin.name),
      }, 'Remove') : null),
    h('td', {}, plugin.version ?? none()),
    h('td', {}, plugin.kind ?? none()),
    h('td', { dataset: { status } }, h('span', { class: 'badge', dataset: { status } }, status)),
    h('td', { class: 'num' }, count(plugin.subscriptions)),
    h('td', { class: 'num' }, count(plugin.reloads)),
    h('td', { dataset: { lastReload: '' } }, lastReload(plugin.last_reload)),
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

/** When a plugin was last reloaded (`last_reload`: seconds since 1970), as a local time. */
function lastReload(seconds) {
  if (!Number.isFinite(seconds)) return none();
  const when = new Date(seconds * 1000);
  return h('time', { datetime: when.toISOString(), title: when.toLocaleString() }, when.toLocaleTimeString());
}

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

// ---------------------------------------------------------------------------
// The plugin directory

/** Whether a plugin lives in a folder of its own that the page may offer to delete. */
function removable(plugin) {
  return typeof plugin.name === 'string' && plugin.name !== ''
    && typeof plugin.path === 'string' && plugin.path !== '' && !plugin.path.startsWith('<built-in>');
}

/** A new plugin list from an install or removal: shown at once, newer than any fetch. */
function showPlugins(answer) {
  if (!Array.isArray(answer?.plugins)) return;
  shell.fresh.plugins = true;
  shell.update({ plugins: answer.plugins });
}

async function openPluginFolder() {
  const button = $('#open-plugin-folder');
  const box = $('#plugin-folder');
  button.disabled = true;
  let answer;
  try {
    answer = await request('/api/plugins/open-folder');
  } catch (err) {
    if (err instanceof Unauthorized) return;
    answer = { ok: false, error: err.message };
  }
  button.disabled = false;
  const body = answer.data ?? {};
  setText($('#plugin-folder-path'), typeof body.path === 'string' ? body.path : '');
  let note = '';
  if (!answer.ok) note = `Could not ask for the plugin folder: ${answer.error}`;
  else if (!body.opened) note = `It could not be opened here${body.error ? ` (${body.error})` : ''}; open it yourself, or drop a plugin below.`;
  setText($('#plugin-folder-note'), note);
  $('#plugin-folder-note').hidden = !note;
  box.hidden = false;
}

// ---------------------------------------------------------------------------
// Install

/** The archive asked about (a 409) until the user replaces the folder or keeps it. */
let waitingArchive = null;
/** Whether an install or a removal is out: one at a time. */
let busy = false;

function installZone() {
  const input = h('input', {
    id: 'plugin-archive', type: 'file', accept: '.zip,application/zip', class: 'file-input',
    'aria-describedby': 'install-hint',
    onchange: () => {
      const file = input.files?.[0];
      if (file) install(file, false);
    },
  });
  const zone = h('div', { id: 'install-plugin', class: 'drop-zone', role: 'region', 'aria-labelledby': 'install-title' },
    h('p', { id: 'install-title', class: 'drop-title' }, 'Drop a plugin .zip here, or choose one'),
    h('p', { class: 'field' },
      h('label', { for: 'plugin-archive', class: 'field-label' }, 'Plugin archive (.zip)'),
      input),
    h('p', { id: 'install-hint', class: 'muted' }, 'It is unpacked into the plugin folder and loaded at once.'));

  acceptDrops(zone, { isBusy: () => busy, onDrop: (transfer) => {
    const files = Array.from(transfer.files ?? []);
    if (files.length !== 1) {
      say('error', files.length ? 'Drop one archive at a time.' : 'Nothing to install in what was dropped.');
      return;
    }
    if (!/\.zip$/i.test(files[0].name)) {
      say('error', `${files[0].name} is not a .zip archive.`);
      return;
    }
    install(files[0], false);
  } });
  // A file dropped next to a drop zone (this one, or the Publish tab's) would make the
  // browser leave the window to open it.
  for (const type of ['dragover', 'drop']) {
    document.addEventListener(type, (event) => {
      if (hasFiles(event.dataTransfer) && !(event.target instanceof Element && event.target.closest('.drop-zone'))) {
        event.preventDefault();
        if (type === 'dragover') event.dataTransfer.dropEffect = 'none';
      }
    });
  }
  return zone;
}

/** Send `file` to be installed; `replace` once the user said to replace the folder. */
async function install(file, replace) {
  const input = $('#plugin-archive');
  // Cleared now, so choosing the same file again is a change again.
  input.value = '';
  if (busy) return;
  busy = true;
  waitingArchive = null;
  input.disabled = true;
  say('installing', `Installing ${file.name}…`);
  let answer;
  try {
    const query = `archive=${encodeURIComponent(file.name)}${replace ? '&replace=true' : ''}`;
    answer = await request(`/api/plugins/install?${query}`, { body: file, type: 'application/zip' });
  } catch (err) {
    if (err instanceof Unauthorized) return;
    answer = { ok: false, status: 0, error: err.message };
  } finally {
    busy = false;
    input.disabled = false;
  }
  if (answer.ok) {
    const folder = typeof answer.data?.folder === 'string' ? answer.data.folder : '';
    say('installed', `Installed ${baseName(folder) || file.name}`);
    const replaced = replace && Array.isArray(answer.data?.plugins)
      ? answer.data.plugins.filter((plugin) => plugin.path === folder).map((plugin) => plugin.name)
      : [];
    showPlugins(answer.data);
    // The plugin's own tab shows the new files, not the ones it was opened with.
    if (replaced.length) shell.reloadPluginTabs?.(replaced);
  } else if (answer.status === 409 && answer.data?.exists) {
    waitingArchive = file;
    say('exists', [
      h('span', { class: 'message-text' }, answer.error),
      h('span', { class: 'button-row' },
        h('button', { id: 'replace-plugin', type: 'button', class: 'btn btn-small', onclick: replaceWaiting }, 'Replace it'),
        h('button', { id: 'keep-plugin', type: 'button', class: 'btn btn-small', onclick: keepInstalled }, 'Keep the installed one')),
    ], '#replace-plugin');
  } else {
    say('error', `Could not install ${file.name}: ${answer.error}`);
  }
}

function replaceWaiting() {
  const file = waitingArchive;
  if (file) install(file, true);
}

function keepInstalled() {
  const file = waitingArchive;
  waitingArchive = null;
  say('kept', `Kept the installed plugin${file ? `; ${file.name} was not installed` : ''}.`, '#plugin-archive');
}

const baseName = (path) => path.split(/[\\/]/).filter(Boolean).pop() ?? '';

/**
 * Say `content` (text or nodes) in #install-message with its outcome. If focus was in the
 * message (a button there went away), it moves to `focusOn` or to the message itself, so it
 * does not fall to the page's start.
 */
function say(outcome, content, focusOn) {
  const box = $('#install-message');
  const hadFocus = box.contains(document.activeElement);
  box.dataset.outcome = outcome;
  box.replaceChildren(...[content].flat().map((part) => (part instanceof Node ? part : h('span', { class: 'message-text' }, part))));
  if (focusOn) $(focusOn)?.focus();
  else if (hadFocus) box.focus();
}

// ---------------------------------------------------------------------------
// Remove

/** Ask, in the page, whether to remove `name`. */
function askRemove(name) {
  if (busy) return;
  say('confirm-remove', [
    h('span', { class: 'message-text' }, `Remove ${name}? Its folder is deleted.`),
    h('span', { class: 'button-row' },
      h('button', {
        id: 'confirm-remove', type: 'button', class: 'btn btn-small btn-danger', dataset: { plugin: name },
        onclick: () => removePlugin(name),
      }, 'Remove it'),
      h('button', {
        id: 'cancel-remove', type: 'button', class: 'btn btn-small',
        onclick: () => cancelRemove(name),
      }, 'Cancel')),
  ], '#confirm-remove');
}

function cancelRemove(name) {
  const box = $('#install-message');
  box.replaceChildren();
  delete box.dataset.outcome;
  // Back to the button that asked, if its row is still there.
  const button = $(`#plugins-body button.remove-plugin[data-plugin="${CSS.escape(name)}"]`);
  (button ?? $('#install-plugin .file-input'))?.focus();
}

async function removePlugin(name) {
  if (busy) return;
  busy = true;
  say('removing', `Removing ${name}…`);
  let answer;
  try {
    answer = await request('/api/plugins/remove', { json: { name } });
  } catch (err) {
    if (err instanceof Unauthorized) return;
    answer = { ok: false, error: err.message };
  } finally {
    busy = false;
  }
  if (answer.ok) {
    say('removed', `Removed ${name}`);
    showPlugins(answer.data);
  } else {
    say('error', `Could not remove ${name}: ${answer.error}`);
  }
}
