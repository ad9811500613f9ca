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
 *  - header     Who is signed in where, the event hub indicator, sign out.
 *  - tabs       `TABS` lists each tab, one module each, as
 *               { id, label, mount(panel, shell), render(panel, state), show?(panel, arg),
 *               hash?() }: `mount` builds the panel's fixed skeleton once, `render` fills
 *               it from `state` after every update, `show` runs each time the tab is
 *               selected (tabs with their own data fetch it there, the first time), and
 *               `hash` names the tab in the URL when it has more to say than its id
 *               (#actions/<context id>). The ARIA tablist and the URL hash are handled
 *               here, generically.
 *
 * The other modules: dom.js (h, api, the session's end, routing), plugins.js, actions.js,
 * about.js, logs.js (one tab each).
 *
 * Test hooks: body[data-ready="true"] and window.connectFirstPaint once the first
 * status and plugin list have rendered (the tabs' own hooks are in their modules).
 */

import { $, api, h, endSession, onSessionEnd, route, session, setText, Unauthorized, warnUnlessEnded } from './dom.js';
import { actionsTab } from './actions.js';
import { pluginsTab } from './plugins.js';
import { aboutTab } from './about.js';
import { logsTab } from './logs.js';

const DEFAULT_TAB = 'actions';

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
  for (const tab of TABS) tab.render(panelOf(tab.id), state);
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

/** Tabs not written yet: one paragraph, nothing to update. */
function placeholder(id, label, what) {
  return {
    id,
    label,
    mount(panel) {
      panel.append(h('p', { class: 'placeholder' }, 'Coming in a later version.'), h('p', { class: 'muted' }, what));
    },
    render() {},
  };
}

const TABS = [
  actionsTab,
  placeholder('publish', 'Publish', 'Publish files to ftrack.'),
  pluginsTab,
  aboutTab,
  logsTab,
];

const panelOf = (id) => document.getElementById(`panel-${id}`);

function setupTabs() {
  const list = $('#tabs');
  const shell = { state, update, fresh };
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
    tab.mount(panel, shell);
  }
  list.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) selectTab(tab.dataset.tab, { focus: true });
  });
  list.addEventListener('keydown', onTabKey);
  window.addEventListener('hashchange', () => selectTab(tabFromHash(), { arg: route().arg }));
  selectTab(tabFromHash(), { arg: route().arg });
}

function tabFromHash() {
  const id = route().tab;
  return TABS.some((tab) => tab.id === id) ? id : DEFAULT_TAB;
}

/** Show tab `id`; `arg` is what the URL says after its id (#actions/<arg>). */
function selectTab(id, { focus = false, arg = '' } = {}) {
  if (session.ended) return;
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
  setupTabs();
  update({});
  live.start();
  // Race the stream's first events; `receive` drops whichever snapshot is older.
  for (const kind of ['status', 'plugins']) {
    api(`/api/${kind}`).then((body) => receive(kind, body, 'fetch'), warnUnlessEnded(`GET /api/${kind}`));
  }
}

start();
