/**
 * What every part of the Connect window shares: building elements, calling the API, and
 * the end of the session.
 *
 *  - `h()` builds elements; children that are not Nodes go in as text nodes, never as
 *    HTML, so nothing the server or a plugin sends can become markup.
 *  - `api()` wraps fetch (JSON in and out). A non-2xx answer throws an Error whose message
 *    is the server's `{error}` (see `describeFailure`), for the caller to show in place;
 *    any 401 ends the session for the whole page (`endSession`) and throws `Unauthorized`,
 *    which callers ignore.
 *  - `request()` is the same for callers that need every answer's status and body (an
 *    upload's 409, a plugin tab's call): it returns them rather than throw.
 *  - `endSession()` replaces the page with a "signed out" / "not signed in" message and
 *    runs the `onSessionEnd` callbacks (streams close there); not while `session.restarting`.
 */

// ---------------------------------------------------------------------------
// DOM

export const $ = (selector, root = document) => root.querySelector(selector);

/** Create an element. Children that are not Nodes become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') {
      for (const [name, data] of Object.entries(value)) if (data != null) el.dataset[name] = data;
    }
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
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

/** A dash for missing values that screen readers read as "none". */
export function none() {
  return h('span', { class: 'none' }, h('span', { 'aria-hidden': 'true' }, '—'), h('span', { class: 'sr-only' }, 'none'));
}

/** `fn`, called `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------------------
// Session

/**
 * `ended` once the page shows a signed-out message; `signingOut` while signing out;
 * `restarting` while the host restarts after a server sign-in or sign-out (account.js): the
 * page is about to sign itself in again, so a 401 of the restarted host does not end it;
 * `browserSignIn` once the server's sign-in page was opened in another tab: if the host
 * restarts for it, the window carries on there, and this page says so.
 */
export const session = { ended: false, signingOut: false, restarting: false, browserSignIn: false };

const endCallbacks = [];

/** Run `fn` when the session ends (close streams, stop timers). */
export function onSessionEnd(fn) {
  endCallbacks.push(fn);
}

const ENDED = {
  unauthorized: ['This window is not signed in. Run ', ' to open it again.'],
  'signed-out': ['Signed out. Run ', ' to open the window again.'],
  restarted: ['The host restarted to use the server you signed in to; the window carries on in the tab '
    + 'the server\'s sign-in page opened. Close this one, or run ', ' to open the window here.'],
};

/** Replace the page with a message: the session is gone and cannot come back here. */
export function endSession(kind) {
  // While the host restarts, the page reopens itself with a new session: nothing has ended.
  if (session.ended || session.restarting) return;
  if (kind === 'unauthorized' && session.browserSignIn) kind = 'restarted';
  session.ended = true;
  for (const fn of endCallbacks) {
    try {
      fn();
    } catch (err) {
      console.warn('a session-end callback failed', err);
    }
  }
  const [before, after] = ENDED[kind];
  const message = h('p', { id: 'session-ended', tabindex: '-1' }, before, h('code', {}, 'ftrack-connect open'), after);
  document.body.replaceChildren(h('main', { class: 'ended' }, h('h1', { class: 'app-name' }, 'ftrack Connect'), message));
  document.body.dataset.session = kind;
  document.body.dataset.ready = 'true'; // the page has settled, even though nothing else will render
  document.title = `ftrack Connect: ${kind === 'signed-out' ? 'signed out' : kind === 'restarted' ? 'restarted' : 'not signed in'}`;
  message.focus();
}

// ---------------------------------------------------------------------------
// API

export class Unauthorized extends Error {}

/** fetch(path, init), the window's way: a network failure is an Error, and 401 ends the page. */
async function send(path, init) {
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new Error('could not reach ftrack-connect');
  }
  if (res.status === 401) {
    endSession(session.signingOut ? 'signed-out' : 'unauthorized');
    throw new Unauthorized();
  }
  return res;
}

/**
 * fetch() with the session cookie; state-changing calls go through here too so the
 * browser adds the Origin header the server checks. `options.body` is sent as JSON.
 * 401 ends the page.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, credentials: 'same-origin', headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await send(path, init);
  if (!res.ok) throw new Error(await describeFailure(res));
  return res.status === 204 ? null : res.json();
}

/**
 * fetch() for callers that need the answer whatever its status: `{ ok, status, data, error }`,
 * `data` the parsed JSON body (or null), `error` the server's `{error}` of a failed answer
 * (else its text, else the status text). `body` goes as it is (a File, a string) with
 * `Content-Type: type`; `json` instead is sent as JSON. Like `api()`, a 401 ends the page
 * and throws `Unauthorized`; a network failure throws an Error.
 */
export async function request(path, { method = 'POST', body, type, json } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, credentials: 'same-origin', headers };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    if (type) headers['Content-Type'] = type;
    init.body = body;
  }
  const res = await send(path, init);
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The answer broke off: judge it by its status alone.
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON.
  }
  const error = res.ok ? null : (failureDetail(text) || res.statusText || `HTTP ${res.status}`);
  return { ok: res.ok, status: res.status, data, error };
}

/** The server's `{error}` (or text) of a failed answer, as one short line. */
export async function describeFailure(res) {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // Nothing to add to the status.
  }
  const detail = failureDetail(text);
  return `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
}

/** What a failed answer's body says: its `{error}` or `{message}`, else its text, shortened. */
export function failureDetail(text) {
  let detail = String(text ?? '').trim();
  try {
    const json = JSON.parse(detail);
    if (typeof json?.error === 'string') detail = json.error;
    else if (typeof json?.message === 'string') detail = json.message;
  } catch {
    // Not JSON: keep the plain text.
  }
  return detail.length > 500 ? `${detail.slice(0, 500)}…` : detail;
}

/** Log a failed call unless it was the 401 that already ended the page. */
export function warnUnlessEnded(what) {
  return (err) => {
    if (!(err instanceof Unauthorized)) console.warn(`${what} failed`, err);
  };
}

// ---------------------------------------------------------------------------
// Routing

/** The URL hash as `{ tab, arg }`: `#actions/abc` is tab "actions", arg "abc". */
export function route() {
  const hash = location.hash.slice(1);
  const slash = hash.indexOf('/');
  if (slash < 0) return { tab: hash, arg: '' };
  let arg = hash.slice(slash + 1);
  try {
    arg = decodeURIComponent(arg);
  } catch {
    // A malformed escape: keep it as typed.
  }
  return { tab: hash.slice(0, slash), arg };
}

/** Whether a drag carries files (rather than text or a link). */
export const hasFiles = (transfer) => Array.from(transfer?.types ?? []).includes('Files');

/**
 * Makes `zone` take dropped files: highlighted (data-dragover) while files are dragged over
 * it, refusing them while `isBusy()`, and `onDrop(dataTransfer)` called, during the drop
 * event (entries of dropped folders can only be taken then), with what was dropped.
 */
export function acceptDrops(zone, { isBusy, onDrop }) {
  const highlight = (on) => {
    if (on) zone.dataset.dragover = 'true';
    else delete zone.dataset.dragover;
  };
  zone.addEventListener('dragenter', (event) => {
    if (!hasFiles(event.dataTransfer)) return;
    event.preventDefault();
    highlight(true);
  });
  zone.addEventListener('dragover', (event) => {
    if (!hasFiles(event.dataTransfer)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = isBusy() ? 'none' : 'copy';
    highlight(true);
  });
  zone.addEventListener('dragleave', (event) => {
    if (!zone.contains(event.relatedTarget)) highlight(false);
  });
  zone.addEventListener('drop', (event) => {
    if (!hasFiles(event.dataTransfer)) return;
    event.preventDefault();
    highlight(false);
    onDrop(event.dataTransfer);
  });
}

/** Only links to web pages: a server's answer never becomes a script link. */
export function safeUrl(url) {
  if (typeof url !== 'string' || !url) return '';
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : '';
  } catch {
    return '';
  }
}
