/**
 * ftrack Connect window: the browser front-end of the local `ftrack-connect` host.
 *
 * Plain ES modules, no build step, no dependencies. This one is the shell:
 *
 *  - state      The last /api/status and /api/plugins bodies plus UI-only flags.
 *               Every change goes through `update(patch)`, which re-renders the
 *               header and every tab. Renders are cheap and idempotent, so there
 *               is no diffing beyond "skip if this data was already rendered".
 *  - live       One EventSource on /api/live delivering `status` and `plugins`
 *               events; an initial fetch of both races it so the first paint
 *               does not depend on the stream.
 *  - header     Who is signed in where, the event hub indicator, sign out. Who and where
 *               is a button, #server-account, opening the server sign-in (account.js).
 *  - tabs       `TABS` lists each tab, one module each, as
 *               { id, label, mount(panel, shell), render(panel, state), show?(panel, arg),
 *               hash?() }: `mount` builds the panel's fixed skeleton once, `render` fills
 *               it from `state` after every update, `show` runs each time the tab is
 *               selected (tabs with their own data fetch it there, the first time), and
 *               `hash` names the tab in the URL when it has more to say than its id
 *               (#actions/<context id>). The ARIA tablist and the URL hash are handled
 *               here, generically. Tabs come and go too: `addTab(tab)` appends one after
 *               the others (a tab may add `data` for its button's data- attributes and
 *               `unmount()` to clean up), `removeTab(id)` takes it away (selecting Plugins
 *               if it was shown). A hash naming a tab that is not there yet (a plugin tab
 *               before /api/widgets answered) selects it when it is added, until
 *               `settleRoute()` says the list is complete.
 *
 * The other modules: dom.js (h, api, the session's end, routing), account.js (the server
 * sign-in under the header), plugins.js, actions.js,
 * publish.js, about.js, logs.js (one tab each), browser.js (the entity browser of Actions,
 * Publish and Pipeline), widgets.js (the plugins' own tabs and their bridge), pipeline.js
 * (the Pipeline tab, added when a pipeline host answers).
 *
 * Test hooks: body[data-ready="true"] and window.connectFirstPaint once the first
 * status and plugin list have rendered (the tabs' own hooks are in their modules).
 */

import { $, api, h, endSession, onSessionEnd, route, session, setText, Unauthorized, warnUnlessEnded } from './dom.js';
import { actionsTab } from './actions.js';
import { publishTab } from './publish.js';
import { pluginsTab } from './plugins.js';
import { aboutTab } from './about.js';
import { logsTab } from './logs.js';
import { startPipeline } from './pipeline.js';
import { reloadPluginTabs, startWidgets, syncWidgets } from './widgets.js';
import { renderAccount, startAccount } from './account.js';

const DEFAULT_TAB = 'actions';
/** Where the window goes when the tab it shows goes away. */
const FALLBACK_TAB = 'plugins';

// ---------------------------------------------------------------------------
// State

const state = {
  status: null, // GET /api/status body
  plugins: null, // the `plugins` array of GET /api/plugins
  live: 'starting', // 'starting' | 'open' | 'retrying'
  reloading: false,
  reloadError: null,
  appError: null,
};

// Which kinds came from the stream or a reload: a slower initial fetch must not
// overwrite them with an older snapshot.
const fresh = { status: false, plugins: false };

function update(patch) {
  if (session.ended) return;
  Object.assign(state, patch);
  renderHeader();
  renderAccount(state);
  for (const tab of TABS) tab.render(panelOf(tab.id), state);
  syncWidgets(state);
  markReady();
}

function receive(kind, body, source) {
  if (session.ended || body == null) return;
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
// Live updates

const live = {
  source: null,
  attempt: 0,
  timer: 0,

  start() {
    if (session.ended) return;
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
    if (es !== this.source || session.ended) return;
    // The host restarts on purpose (a server sign-in): the page reopens itself shortly.
    if (session.restarting) return this.stop();
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
  session.signingOut = true; // a 401 racing the answer still reads "Signed out"
  live.stop(); // the server drops the stream; do not report that as an error
  try {
    await api('/api/signout', { method: 'POST' });
    endSession('signed-out');
  } catch (err) {
    if (err instanceof Unauthorized) return;
    session.signingOut = false;
    button.disabled = false;
    update({ appError: `Sign out failed: ${err.message}` });
    live.start();
  }
}

// ---------------------------------------------------------------------------
// Tabs

/** The tabs in their order on screen; built-in ones first, plugin tabs added after. */
const TABS = [
  actionsTab,
  publishTab,
  pluginsTab,
  aboutTab,
  logsTab,
];

const panelOf = (id) => document.getElementById(`panel-${id}`);

/** What every tab module gets at mount. */
const shell = {
  state, update, fresh, addTab, removeTab, selectTab, settleRoute, reloadPluginTabs,
  stopLive: () => live.stop(),
};

/** The tab the URL named at start, until it is added or the tab list is complete. */
let pendingRoute = null;

/** Create `tab`'s button and panel at the end of the list, and mount it. */
function createTab(tab) {
  $('#tabs').append(h('button', {
    type: 'button', role: 'tab', id: `tab-${tab.id}`, class: 'tab',
    'aria-controls': `panel-${tab.id}`, 'aria-selected': 'false', tabindex: '-1',
    title: tab.title, dataset: { ...tab.data, tab: tab.id },
  }, tab.label));
  // Panel ids differ from the hash so the browser never scrolls to them.
  const panel = h('section', {
    role: 'tabpanel', id: `panel-${tab.id}`, class: 'panel',
    'aria-labelledby': `tab-${tab.id}`, tabindex: '0', hidden: true,
  });
  $('#panels').append(panel);
  tab.mount(panel, shell);
}

/** Add a tab after the others (its id must be new); selects it if the URL asked for it. */
export function addTab(tab) {
  if (session.ended || TABS.some((known) => known.id === tab.id)) return;
  TABS.push(tab);
  createTab(tab);
  tab.render(panelOf(tab.id), state);
  if (pendingRoute?.tab === tab.id) {
    const { arg } = pendingRoute;
    pendingRoute = null;
    selectTab(tab.id, { arg });
  }
}

/** Take tab `id` away; if it was shown, show the Plugins tab instead. */
export function removeTab(id) {
  const index = TABS.findIndex((tab) => tab.id === id);
  if (index < 0) return;
  const [tab] = TABS.splice(index, 1);
  const button = document.getElementById(`tab-${id}`);
  const wasSelected = button?.getAttribute('aria-selected') === 'true';
  const hadFocus = button != null && button === document.activeElement;
  try {
    tab.unmount?.(panelOf(id));
  } catch (err) {
    console.warn(`tab ${id} failed to clean up`, err);
  }
  button?.remove();
  panelOf(id)?.remove();
  if (wasSelected) selectTab(FALLBACK_TAB, { focus: hadFocus });
}

/** The tab list is complete (plugin tabs listed): a URL naming a missing tab is moot now. */
export function settleRoute() {
  if (!pendingRoute) return;
  pendingRoute = null;
  // The hash was left as typed while waiting; say where the window is now.
  const selected = TABS.find((tab) => document.getElementById(`tab-${tab.id}`)?.getAttribute('aria-selected') === 'true');
  const hash = `#${selected?.hash?.() ?? selected?.id ?? DEFAULT_TAB}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

function setupTabs() {
  const list = $('#tabs');
  for (const tab of TABS) createTab(tab);
  list.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) selectTab(tab.dataset.tab, { focus: true });
  });
  list.addEventListener('keydown', onTabKey);
  window.addEventListener('hashchange', () => {
    pendingRoute = null;
    selectTab(tabFromHash(), { arg: route().arg });
  });
  const wanted = route();
  // Plugin tabs are listed later: remember the one asked for rather than forget it.
  if (wanted.tab.startsWith('widget-') && !TABS.some((tab) => tab.id === wanted.tab)) pendingRoute = wanted;
  selectTab(tabFromHash(), { arg: wanted.arg });
}

function tabFromHash() {
  const id = route().tab;
  return TABS.some((tab) => tab.id === id) ? id : DEFAULT_TAB;
}

/** Show tab `id`; `arg` is what the URL says after its id (#actions/<arg>). */
export function selectTab(id, { focus = false, arg = '' } = {}) {
  if (session.ended) return;
  if (!TABS.some((tab) => tab.id === id)) id = DEFAULT_TAB;
  // A choice made here (a click, a key) wins over a tab the URL asked for at start.
  if (focus) pendingRoute = null;
  let shown = null;
  for (const tab of TABS) {
    const selected = tab.id === id;
    const button = document.getElementById(`tab-${tab.id}`);
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1; // roving tabindex: Tab enters the list once
    panelOf(tab.id).hidden = !selected;
    if (selected) {
      shown = tab;
      if (focus) button.focus();
      document.title = `${tab.label} · ftrack Connect`;
    }
  }
  shown.show?.(panelOf(id), arg);
  // While a plugin tab the URL names may still come, the hash stays as it was typed.
  if (pendingRoute) return;
  // replaceState: no history entry per tab, and no hashchange event back to us.
  const hash = `#${shown.hash?.() ?? id}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
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
// Start

function start() {
  onSessionEnd(() => live.stop());
  $('#sign-out').addEventListener('click', signOut);
  startAccount(shell);
  setupTabs();
  startWidgets(shell);
  startPipeline(shell);
  update({});
  live.start();
  // Race the stream's first events; `receive` drops whichever snapshot is older.
  for (const kind of ['status', 'plugins']) {
    api(`/api/${kind}`).then((body) => receive(kind, body, 'fetch'), warnUnlessEnded(`GET /api/${kind}`));
  }
}

start();
