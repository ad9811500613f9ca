/**
 * Plugin tabs: each tab a plugin ships (GET /api/widgets, listed again whenever the plugin
 * list changes) becomes a tab after the built-in ones, its page in a sandboxed frame, and
 * this module is the frames' way to the host (the window's side of widget-api.js).
 *
 *  - A frame is `sandbox="allow-scripts allow-forms allow-modals"`, never allow-same-origin:
 *    its own opaque origin, no cookie, no /api/. It is created the first time its tab is
 *    shown and kept while the tab exists (a replaced plugin's frame starts again).
 *  - The bridge is one `message` listener. A message counts only if it comes from the
 *    contentWindow of one of our frames, and it acts as that frame's plugin (the frame's
 *    data-plugin), whatever the message says. Calls are
 *    {connect: 1, type: 'call', id, op, ...}: `publish` {event}, `query` {expression},
 *    `subscribe` {expression}, `unsubscribe` {subscription}; each is answered with
 *    {connect: 1, type: 'reply', id, ok, result | error}, and a subscription's events go
 *    as {connect: 1, type: 'event', subscription, event}.
 *  - A subscription is an EventSource on /api/widgets/<plugin>/events, answered once it is
 *    open (the server has subscribed by then); it ends on `unsubscribe`, when its tab goes
 *    or its frame starts again, and when the session ends.
 *
 * Test hooks: tab buttons #tab-widget-<id>[data-plugin], panels #panel-widget-<id>,
 * iframe.plugin-tab[data-plugin].
 */

import { h, onSessionEnd, request, session, Unauthorized, warnUnlessEnded } from './dom.js';

/** The shell (app.js): { state, addTab, removeTab, settleRoute, ... }. */
let shell = null;

/** The plugin tabs shown, by `<plugin>/<name>`. */
const tabs = new Map();

/** Subscription ids, unique in the window. */
let nextSubscription = 1;

/** The plugin list last listed for; a new one (by identity) lists the tabs again. */
let listedFor;
/** Whether GET /api/widgets is out, and whether it must be asked again when it answers. */
let listing = false;
let listAgain = false;

/** Start: list the tabs, listen for frames' messages, and stop all at the session's end. */
export function startWidgets(app) {
  shell = app;
  listedFor = app.state.plugins;
  window.addEventListener('message', onMessage);
  onSessionEnd(() => {
    window.removeEventListener('message', onMessage);
    for (const tab of tabs.values()) closeSubscriptions(tab);
  });
  listWidgets();
}

/** After every update: list the tabs again when the plugin list is a new one. */
export function syncWidgets(state) {
  if (!shell || state.plugins === listedFor) return;
  listedFor = state.plugins;
  listWidgets();
}

/** A plugin was replaced on disk: its frames start again on the new files. */
export function reloadPluginTabs(plugins) {
  const names = new Set(plugins);
  for (const tab of tabs.values()) {
    if (names.has(tab.plugin) && tab.frame) createFrame(tab);
  }
}

// ---------------------------------------------------------------------------
// The tab list

async function listWidgets() {
  if (listing) {
    listAgain = true;
    return;
  }
  listing = true;
  try {
    do {
      listAgain = false;
      let answer;
      try {
        answer = await request('/api/widgets', { method: 'GET' });
      } catch (err) {
        warnUnlessEnded('GET /api/widgets')(err);
        if (err instanceof Unauthorized) return;
        continue;
      }
      if (session.ended) return;
      if (!answer.ok) {
        console.warn(`GET /api/widgets failed: ${answer.error}`);
        continue;
      }
      // A newer plugin list asked meanwhile: its answer is the one to show.
      if (!listAgain) apply(Array.isArray(answer.data?.widgets) ? answer.data.widgets : []);
    } while (listAgain);
  } finally {
    listing = false;
  }
}

/** Make the tabs those of `widgets`: add the new ones, drop the gone ones. */
function apply(widgets) {
  const seen = new Set();
  for (const widget of widgets) {
    if (typeof widget?.plugin !== 'string' || typeof widget?.name !== 'string' || typeof widget?.url !== 'string') continue;
    const key = `${widget.plugin}/${widget.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const known = tabs.get(key);
    if (known) {
      if (known.url !== widget.url) {
        known.url = widget.url;
        if (known.frame) createFrame(known);
      }
      continue;
    }
    const tab = widgetTab(widget, uniqueId(widget));
    tabs.set(key, tab);
    shell.addTab(tab);
  }
  for (const [key, tab] of tabs) {
    if (seen.has(key)) continue;
    tabs.delete(key);
    shell.removeTab(tab.id); // its unmount closes the subscriptions
  }
  shell.settleRoute();
}

/** `widget-<plugin>-<name>` in [a-z0-9-], made unique if two tabs read the same. */
function uniqueId(widget) {
  const base = `widget-${slug(widget.plugin)}-${slug(widget.name)}`;
  const taken = new Set([...tabs.values()].map((tab) => tab.id));
  let id = base;
  for (let n = 2; taken.has(id) || document.getElementById(`tab-${id}`); n += 1) id = `${base}-${n}`;
  return id;
}

const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'tab';

/** "studio_news-feed" reads "Studio news feed". */
function labelOf(name) {
  const words = name.replace(/[-_]+/g, ' ').trim() || name;
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The shell's tab for one plugin tab. */
function widgetTab(widget, id) {
  const tab = {
    id,
    label: labelOf(widget.name),
    title: `${widget.plugin}: ${widget.name}`,
    data: { plugin: widget.plugin },
    plugin: widget.plugin,
    name: widget.name,
    url: widget.url,
    panel: null,
    frame: null,
    /** Open subscriptions: id -> EventSource. */
    subscriptions: new Map(),
    mount(panel) {
      tab.panel = panel;
      panel.classList.add('plugin-panel');
      panel.dataset.plugin = widget.plugin;
    },
    render() {},
    show() {
      if (!tab.frame) createFrame(tab);
    },
    unmount() {
      closeSubscriptions(tab);
      tab.frame = null;
    },
  };
  return tab;
}

/** (Re)create `tab`'s frame; a frame starting again drops the old one's subscriptions. */
function createFrame(tab) {
  closeSubscriptions(tab);
  // A secret only the page we load learns (from its address's fragment): a page the frame
  // is later sent to (a link in the tab) does not know it, and is not answered.
  tab.secret = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  const frame = h('iframe', {
    class: 'plugin-tab',
    // Never allow-same-origin: the tab must not share the window's origin.
    sandbox: 'allow-scripts allow-forms allow-modals',
    src: `${tab.url}#${tab.secret}`,
    title: `${tab.plugin}: ${tab.name}`,
    referrerpolicy: 'no-referrer',
    dataset: { plugin: tab.plugin },
  });
  if (tab.frame) tab.frame.replaceWith(frame);
  else tab.panel.append(frame);
  tab.frame = frame;
}

function closeSubscriptions(tab) {
  for (const source of tab.subscriptions.values()) source.close();
  tab.subscriptions.clear();
}

// ---------------------------------------------------------------------------
// The bridge

/** The tab whose frame is `source`, if any. */
function tabOfSource(source) {
  if (!source) return null;
  for (const tab of tabs.values()) {
    if (tab.frame && tab.frame.contentWindow === source) return tab;
  }
  return null;
}

function onMessage(message) {
  const tab = tabOfSource(message.source);
  if (!tab) return; // not one of our frames: someone else's business
  const call = message.data;
  if (!call || typeof call !== 'object' || call.connect !== 1 || call.type !== 'call') return;
  if (call.secret !== tab.secret) return; // another page, loaded in the tab's frame
  const frame = tab.frame;
  const reply = (ok, value) => {
    // A frame that started again or went away does not hear about the old one's calls.
    if (tab.frame !== frame || !frame.contentWindow) return;
    const body = ok ? { connect: 1, type: 'reply', id: call.id, ok: true, result: value ?? null }
      : { connect: 1, type: 'reply', id: call.id, ok: false, error: String(value || 'failed') };
    // '*': the frame's origin is opaque and cannot be named.
    frame.contentWindow.postMessage(body, '*');
  };
  handle(tab, frame, call, reply).catch((err) => {
    if (!(err instanceof Unauthorized)) reply(false, err?.message || String(err));
  });
}

async function handle(tab, frame, call, reply) {
  const base = `/api/widgets/${encodeURIComponent(tab.plugin)}`;
  switch (call.op) {
    case 'publish': {
      if (!call.event || typeof call.event !== 'object' || Array.isArray(call.event)) {
        return reply(false, 'publish needs an event: {topic, data, target}');
      }
      const answer = await request(`${base}/publish`, { json: { event: call.event } });
      return answer.ok ? reply(true, answer.data?.replies ?? []) : reply(false, answer.error);
    }
    case 'query': {
      if (typeof call.expression !== 'string') return reply(false, 'query needs an expression');
      const answer = await request(`${base}/query`, { json: { expression: call.expression } });
      return answer.ok ? reply(true, answer.data?.results ?? []) : reply(false, answer.error);
    }
    case 'subscribe':
      if (typeof call.expression !== 'string') return reply(false, 'subscribe needs an expression');
      return subscribe(tab, frame, `${base}/events?expression=${encodeURIComponent(call.expression)}`, reply);
    case 'unsubscribe': {
      const source = tab.subscriptions.get(call.subscription);
      source?.close();
      tab.subscriptions.delete(call.subscription);
      return reply(true, null);
    }
    default:
      return reply(false, `unknown operation ${JSON.stringify(String(call.op))}`);
  }
}

/** Open the stream; answer once it is open (subscribed), or with why it could not be. */
function subscribe(tab, frame, url, reply) {
  const id = nextSubscription++;
  const source = new EventSource(url);
  let opened = false;
  tab.subscriptions.set(id, source);
  source.addEventListener('open', () => {
    if (opened) return; // the browser reconnected after a drop: same subscription to the tab
    opened = true;
    reply(true, { subscription: id });
  });
  source.addEventListener('event', (sse) => {
    if (!opened || tab.frame !== frame || !frame.contentWindow) return;
    let event;
    try {
      event = JSON.parse(sse.data);
    } catch (err) {
      console.warn('ignoring a malformed event for a plugin tab', err);
      return;
    }
    frame.contentWindow.postMessage({ connect: 1, type: 'event', subscription: id, event }, '*');
  });
  source.addEventListener('error', () => {
    // Once open, the browser reconnects by itself; before, the server said no.
    if (opened) return;
    source.close();
    tab.subscriptions.delete(id);
    whyRefused(url).then((why) => reply(false, why), warnUnlessEnded('a plugin tab\'s subscription'));
  });
}

/** Why the server refused a stream (EventSource does not say): ask once more, plainly. */
async function whyRefused(url) {
  const abort = new AbortController();
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/event-stream' }, signal: abort.signal });
  } catch {
    return 'could not reach ftrack-connect';
  }
  if (res.ok) {
    abort.abort(); // it works now: close it again rather than hold a second subscription
    return 'could not subscribe; try again';
  }
  if (res.status === 401) {
    // The page ends the session through its own stream; this answer just says so.
    return 'not signed in';
  }
  const answer = await res.text().catch(() => '');
  try {
    const json = JSON.parse(answer);
    if (typeof json?.error === 'string') return json.error;
  } catch {
    // Not JSON.
  }
  return answer.trim().slice(0, 500) || res.statusText || `HTTP ${res.status}`;
}
