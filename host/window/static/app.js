/**
 * ftrack Connect window: the browser front-end of the local `ftrack-connect` host.
 *
 * Plain ES module, no build step, no dependencies. Structure, top to bottom:
 *
 *  - state      The last /api/status and /api/plugins bodies plus UI-only flags.
 *               Every change goes through `update(patch)`, which re-renders the
 *               header and every tab. Renders are cheap and idempotent, so there
 *               is no diffing beyond "skip if this data was already rendered".
 *  - DOM/api    `h()` builds elements (text goes in as text nodes, never HTML);
 *               `api()` wraps fetch, and any 401 replaces the whole page with the
 *               "not signed in" message (`endSession`).
 *  - live       One EventSource on /api/live delivering `status` and `plugins`
 *               events; an initial fetch of both races it so the first paint
 *               does not depend on the stream.
 *  - header     Who is signed in where, the event hub indicator, sign out.
 *  - tabs       `TABS` lists each tab as { id, label, mount(panel), render(panel) }:
 *               `mount` builds the panel's fixed skeleton once, `render` fills it
 *               from `state`. Adding a tab means adding one entry and one section
 *               below with its two functions. The ARIA tablist and the URL hash
 *               (#plugins) are handled generically.
 *
 * Test hooks: body[data-ready="true"] and window.connectFirstPaint once the first
 * status and plugin list have rendered; rows carry data-plugin, status cells
 * data-status.
 */

/** Shown until Actions is implemented; every other tab is a placeholder today. */
const DEFAULT_TAB = 'plugins';

// ---------------------------------------------------------------------------
// State

const state = {
  status: null, // GET /api/status body
  plugins: null, // the `plugins` array of GET /api/plugins
  live: 'starting', // 'starting' | 'open' | 'retrying'
  reloading: false,
  reloadError: null,
  appError: null,
  signingOut: false,
  ended: false, // true once the page shows a signed-out message
};

// Which kinds came from the stream or a reload: a slower initial fetch must not
// overwrite them with an older snapshot.
const fresh = { status: false, plugins: false };

function update(patch) {
  if (state.ended) return;
  Object.assign(state, patch);
  renderHeader();
  for (const tab of TABS) tab.render(panelOf(tab.id));
  markReady();
}

function receive(kind, body, source) {
  if (state.ended || body == null) return;
  if (source === 'fetch' && fresh[kind]) return;
  if (source !== 'fetch') fresh[kind] = true;
  if (kind === 'status') update({ status: body });
  else update({ plugins: Array.isArray(body.plugins) ? body.plugins : [] });
}

function markReady() {
  if (document.body.dataset.ready === 'true' || !state.status || !state.plugins) return;
  // Record the time before the flag so a test that waits for the flag sees a number.
  window.connectFirstPaint = performance.now();
  document.body.dataset.ready = 'true';
}

// ---------------------------------------------------------------------------
// DOM helpers

const $ = (selector, root = document) => root.querySelector(selector);

/** Create an element. Children that are not Nodes become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false || child === '') continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Set text only when it changed, so live regions do not re-announce. */
function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** A dash for missing values that screen readers read as "none". */
function none() {
  return h('span', { class: 'none' }, h('span', { 'aria-hidden': 'true' }, '—'), h('span', { class: 'sr-only' }, 'none'));
}

// ---------------------------------------------------------------------------
// API

class Unauthorized extends Error {}

/**
 * fetch() with the session cookie; state-changing calls go through here too so
 * the browser adds the Origin header the server checks. 401 ends the page.
 */
async function api(path, method = 'GET') {
  let res;
  try {
    res = await fetch(path, { method, credentials: 'same-origin', headers: { Accept: 'application/json' } });
  } catch {
    throw new Error('could not reach ftrack-connect');
  }
  if (res.status === 401) {
    endSession(state.signingOut ? 'signed-out' : 'unauthorized');
    throw new Unauthorized();
  }
  if (!res.ok) throw new Error(await describeFailure(res));
  return res.status === 204 ? null : res.json();
}

async function describeFailure(res) {
  let detail = '';
  try {
    detail = (await res.text()).trim();
    const json = JSON.parse(detail);
    if (typeof json?.error === 'string') detail = json.error;
    else if (typeof json?.message === 'string') detail = json.message;
  } catch {
    // Not JSON: keep the plain text.
  }
  if (detail.length > 500) detail = `${detail.slice(0, 500)}…`;
  return `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
}

const ENDED = {
  unauthorized: ['This window is not signed in. Run ', ' to open it again.'],
  'signed-out': ['Signed out. Run ', ' to open the window again.'],
};

/** Replace the page with a message: the session is gone and cannot come back here. */
function endSession(kind) {
  if (state.ended) return;
  state.ended = true;
  live.stop();
  const [before, after] = ENDED[kind];
  const message = h('p', { id: 'session-ended', tabindex: '-1' }, before, h('code', {}, 'ftrack-connect open'), after);
  document.body.replaceChildren(h('main', { class: 'ended' }, h('h1', { class: 'app-name' }, 'ftrack Connect'), message));
  document.body.dataset.session = kind;
  document.body.dataset.ready = 'true'; // the page has settled, even though nothing else will render
  document.title = `ftrack Connect: ${kind === 'signed-out' ? 'signed out' : 'not signed in'}`;
  message.focus();
}

// ---------------------------------------------------------------------------
// Live updates

const live = {
  source: null,
  attempt: 0,
  timer: 0,

  start() {
    if (state.ended) return;
    clearTimeout(this.timer);
    const es = new EventSource('/api/live');
    this.source = es;
    es.addEventListener('open', () => {
      this.attempt = 0;
      update({ live: 'open' });
    });
    for (const kind of ['status', 'plugins']) {
      es.addEventListener(kind, (event) => {
        let body;
        try {
          body = JSON.parse(event.data);
        } catch (err) {
          console.warn(`ignoring malformed ${kind} event`, err);
          return;
        }
        receive(kind, body, 'live');
      });
    }
    es.addEventListener('error', () => this.failed(es));
  },

  stop() {
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  },

  async failed(es) {
    if (es !== this.source || state.ended) return;
    update({ live: 'retrying' });
    // While CONNECTING the browser retries by itself. CLOSED means it gave up
    // (a non-200 answer such as 401): ask once to learn why, then retry later.
    if (es.readyState !== EventSource.CLOSED) return;
    this.source = null;
    try {
      await api('/api/status');
    } catch (err) {
      if (err instanceof Unauthorized) return;
    }
    const delay = Math.min(30_000, 1000 * 2 ** this.attempt++);
    this.timer = setTimeout(() => this.start(), delay);
  },
};

// ---------------------------------------------------------------------------
// Header

function renderHeader() {
  const status = state.status;
  const server = status?.server ?? null;

  // Cleared rather than hidden so the element's text reads right for tests too.
  setText($('#session-label'), server ? 'Signed in as ' : '');
  if (!status) {
    setText($('#session-text'), 'Connecting…');
    setText($('#session-via'), '');
  } else if (!server) {
    setText($('#session-text'), 'not connected to a server');
    setText($('#session-via'), '');
  } else {
    setText($('#session-text'), `${server.api_user ?? status.api_user ?? 'unknown user'} @ ${server.url ?? 'unknown server'}`);
    setText($('#session-via'), server.sign_in ? ` (${server.sign_in})` : '');
  }

  const hub = server ? String(server.event_hub ?? 'unknown') : status ? 'no server' : 'unknown';
  $('#hub-status').dataset.hub = server ? hub : status ? 'none' : 'unknown';
  setText($('#hub-text'), `event hub: ${hub}`);

  setText($('#live-status'), state.live === 'retrying' ? 'Lost contact with ftrack-connect; retrying…' : '');
  setText($('#app-error'), state.appError ?? '');
}

async function signOut() {
  const button = $('#sign-out');
  button.disabled = true;
  update({ appError: null });
  state.signingOut = true; // a 401 racing the answer still reads "Signed out"
  live.stop(); // the server drops the stream; do not report that as an error
  try {
    await api('/api/signout', 'POST');
    endSession('signed-out');
  } catch (err) {
    if (err instanceof Unauthorized) return;
    state.signingOut = false;
    button.disabled = false;
    update({ appError: `Sign out failed: ${err.message}` });
    live.start();
  }
}

// ---------------------------------------------------------------------------
// Tabs

/** Tabs not written yet: one paragraph, nothing to update. */
function placeholder(what) {
  return {
    mount(panel) {
      panel.append(h('p', { class: 'placeholder' }, 'Coming in a later version.'), h('p', { class: 'muted' }, what));
    },
    render() {},
  };
}

const TABS = [
  { id: 'actions', label: 'Actions', ...placeholder('Launch applications and run actions offered by plugins.') },
  { id: 'publish', label: 'Publish', ...placeholder('Publish files to ftrack.') },
  { id: 'plugins', label: 'Plugins', mount: mountPlugins, render: renderPlugins },
  { id: 'about', label: 'About', ...placeholder('Version, server and environment details.') },
  { id: 'logs', label: 'Logs', ...placeholder('Recent log output of ftrack-connect and its plugins.') },
];

const panelOf = (id) => document.getElementById(`panel-${id}`);

function setupTabs() {
  const list = $('#tabs');
  for (const tab of TABS) {
    list.append(h('button', {
      type: 'button', role: 'tab', id: `tab-${tab.id}`, class: 'tab',
      'aria-controls': `panel-${tab.id}`, 'aria-selected': 'false', tabindex: '-1', dataset: { tab: tab.id },
    }, tab.label));
    // Panel ids differ from the hash so the browser never scrolls to them.
    const panel = h('section', {
      role: 'tabpanel', id: `panel-${tab.id}`, class: 'panel',
      'aria-labelledby': `tab-${tab.id}`, tabindex: '0', hidden: true,
    });
    $('#panels').append(panel);
    tab.mount(panel);
  }
  list.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) selectTab(tab.dataset.tab, { focus: true });
  });
  list.addEventListener('keydown', onTabKey);
  window.addEventListener('hashchange', () => selectTab(tabFromHash()));
  selectTab(tabFromHash());
}

function tabFromHash() {
  const id = location.hash.slice(1);
  return TABS.some((tab) => tab.id === id) ? id : DEFAULT_TAB;
}

function selectTab(id, { focus = false } = {}) {
  if (state.ended) return;
  for (const tab of TABS) {
    const selected = tab.id === id;
    const button = document.getElementById(`tab-${tab.id}`);
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1; // roving tabindex: Tab enters the list once
    panelOf(tab.id).hidden = !selected;
    if (selected) {
      if (focus) button.focus();
      document.title = `${tab.label} · ftrack Connect`;
    }
  }
  // replaceState: no history entry per tab, and no hashchange event back to us.
  if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
}

function onTabKey(event) {
  const ids = TABS.map((tab) => tab.id);
  const index = ids.indexOf(event.target.dataset?.tab);
  if (index < 0) return;
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: ids.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectTab(ids[(next + ids.length) % ids.length], { focus: true });
}

// ---------------------------------------------------------------------------
// Plugins tab

const PLUGIN_COLUMNS = ['Name', 'Version', 'Kind', 'Status', 'Subscriptions', 'Reloads', 'Details'];
let renderedPlugins = null; // the array last put into the table

function mountPlugins(panel) {
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

function renderPlugins(panel) {
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
  if (state.reloading) return;
  const button = $('#reload-plugins');
  const hadFocus = document.activeElement === button;
  update({ reloading: true, reloadError: null });
  let patch;
  try {
    const body = await api('/api/plugins/reload', 'POST');
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
// Start

function start() {
  $('#sign-out').addEventListener('click', signOut);
  setupTabs();
  update({});
  live.start();
  // Race the stream's first events; `receive` drops whichever snapshot is older.
  for (const kind of ['status', 'plugins']) {
    api(`/api/${kind}`).then(
      (body) => receive(kind, body, 'fetch'),
      (err) => { if (!(err instanceof Unauthorized)) console.warn(`GET /api/${kind} failed`, err); },
    );
  }
}

start();
