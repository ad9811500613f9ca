/**
 * The server sign-in: Connect's sign-in screen, in a panel under the header.
 *
 * The header's "alice @ https://studio.ftrackapp.com (credentials.json)" is a button,
 * #server-account, that opens and closes #server-panel, a region under the header (not
 * modal: the rest of the window stays usable). It says which server the host uses and how
 * it signed in, and signs the host in to another one:
 *
 *  - with a key:            POST /api/server/signin {server, api_user, api_key}
 *  - through the browser:   POST /api/server/browser {server} → {url}, the server's own
 *                           sign-in page, opened in a new tab; once confirmed there, the
 *                           host restarts and that tab comes back as this window;
 *  - out again:             POST /api/server/signout (only for a kept sign-in,
 *                           credentials.json), back to the local server.
 *
 * A sign-in or sign-out answers `{restarting: true, reopen: "/signin/<code>"}` and the host
 * restarts in its process, on the same port. The page marks the session as restarting (so
 * the failed stream and the 401s of the restarted host do not end the page, see dom.js),
 * waits for another run of the window to answer (GET /static/instance, which needs no
 * session, names the run) and
 * follows `reopen`, a one-time link of the restarted window that gives the page a new
 * session; the page then starts fresh on the tab it showed.
 *
 * When the host took its sign-in from the environment (FTRACK_SERVER, FTRACK_API_KEY) the
 * form is disabled: the environment decides, and the host would refuse anyway.
 *
 * Test hooks: button#server-account[aria-expanded] (holds #session-text), #server-panel,
 * #server-panel-close, #server-current, form#server-signin-form, input#server-url,
 * input#server-user, input#server-key, button#server-signin, button#server-browser-signin,
 * button#server-signout, #server-env-note, #server-message[data-state] (busy, waiting,
 * restarting, error).
 */

import { $, h, request, session, setText, Unauthorized } from './dom.js';

/** How often, and for how long at most, to ask whether the restarted host answers. */
const POLL_MS = 250;
const POLL_FOR_MS = 60_000;
/** An answer this long after the restart began comes from the restarted host. */

const HOW = {
  environment: 'from the environment (FTRACK_SERVER, FTRACK_API_USER, FTRACK_API_KEY)',
  'credentials.json': 'with the sign-in kept by ftrack-connect login or this window (credentials.json)',
  'local server': 'to the local server this host serves',
};

let shell = null;
let server = null; // state.status.server, as last rendered
let busy = false; // a call is under way
let restarting = false;

// ---------------------------------------------------------------------------
// Building

/** Build the panel and hook the header's button to it; `appShell` gives `stopLive`. */
export function startAccount(appShell) {
  shell = appShell;
  const button = $('#server-account');
  button.addEventListener('click', () => (panel().hidden ? open() : close()));
  button.addEventListener('keydown', closeOnEscape);

  const field = (id, label, attrs) =>
    h('div', { class: 'field' },
      h('label', { class: 'field-label', for: id }, label),
      h('input', { id, class: 'input', ...attrs }));

  const form = h('form', { id: 'server-signin-form', class: 'server-form', novalidate: true, onsubmit: signIn },
    h('fieldset', { id: 'server-fields', class: 'server-fields' },
      h('legend', { class: 'sr-only' }, 'Sign in to an ftrack server'),
      field('server-url', 'Server', {
        type: 'text', name: 'server', placeholder: 'https://studio.ftrackapp.com or studio',
        autocomplete: 'url', spellcheck: 'false', autocapitalize: 'off', inputmode: 'url',
      }),
      field('server-user', 'User', {
        type: 'text', name: 'api_user', autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off',
      }),
      field('server-key', 'API key', {
        type: 'password', name: 'api_key', autocomplete: 'off', spellcheck: 'false',
      }),
      h('div', { class: 'button-row' },
        h('button', { id: 'server-signin', type: 'submit', class: 'btn btn-primary' }, 'Sign in'),
        h('button', { id: 'server-browser-signin', type: 'button', class: 'btn', onclick: signInThroughBrowser },
          'Sign in through the browser'))),
    h('p', { class: 'muted server-hint' },
      'Signing in through the browser needs only the server: its own page asks who you are.'));

  const region = h('section', {
    id: 'server-panel', class: 'server-panel', role: 'region',
    'aria-labelledby': 'server-panel-title', tabindex: '-1', hidden: true,
    onkeydown: closeOnEscape,
  },
  h('div', { class: 'server-panel-head' },
    h('h2', { id: 'server-panel-title', class: 'server-panel-title' }, 'ftrack server'),
    h('button', { id: 'server-panel-close', type: 'button', class: 'btn btn-small', 'aria-label': 'Close the server sign-in', onclick: close },
      h('span', { 'aria-hidden': 'true' }, '✕'), ' Close')),
  h('p', { id: 'server-current', class: 'server-current' }, 'Connecting…'),
  h('p', { id: 'server-env-note', class: 'notice server-note', hidden: true },
    'The host signed in with ', h('code', {}, 'FTRACK_SERVER'), ' and ', h('code', {}, 'FTRACK_API_KEY'),
    ' from its environment: they decide the server. To sign in here, start the host without them.'),
  form,
  h('div', { class: 'button-row' },
    h('button', { id: 'server-signout', type: 'button', class: 'btn btn-danger', hidden: true, onclick: signOut }, 'Sign out')),
  h('div', { id: 'server-message', class: 'server-message', role: 'status', tabindex: '-1' }));

  $('.app-header').after(region);
}

const panel = () => $('#server-panel');

function closeOnEscape(event) {
  if (event.key !== 'Escape' || event.defaultPrevented || panel().hidden) return;
  event.preventDefault();
  close();
}

// ---------------------------------------------------------------------------
// Showing

/** Fill the panel from `state.status` (after every update; cheap and idempotent). */
export function renderAccount(state) {
  if (!panel()) return;
  const status = state.status;
  server = status?.server ?? null;

  const current = $('#server-current');
  if (!status) setText(current, 'Connecting…');
  else if (!server) setText(current, 'The host is not connected to a server.');
  else {
    const user = server.api_user ?? status.api_user ?? 'unknown user';
    const how = HOW[server.sign_in] ?? (server.sign_in ? `(${server.sign_in})` : '');
    setText(current, `Signed in as ${user} at ${server.url ?? 'an unknown server'}${how ? `, ${how}` : ''}.`);
  }

  const fromEnvironment = server?.sign_in === 'environment';
  $('#server-env-note').hidden = !fromEnvironment;
  // A fieldset disables every field and button in it at once.
  $('#server-fields').disabled = fromEnvironment || busy || restarting;

  const signout = $('#server-signout');
  const kept = server?.sign_in === 'credentials.json';
  if (!kept && signout === document.activeElement) $('#server-panel-close').focus();
  signout.hidden = !kept;
  signout.disabled = busy || restarting;
  setText(signout, `Sign out of ${server?.url ?? 'the server'}`);
}

function open() {
  const region = panel();
  region.hidden = false;
  $('#server-account').setAttribute('aria-expanded', 'true');
  // Signed in with a kept sign-in: start from it, as Connect's sign-in screen does.
  if (server?.sign_in === 'credentials.json') {
    if (!$('#server-url').value) $('#server-url').value = server.url ?? '';
    if (!$('#server-user').value) $('#server-user').value = server.api_user ?? '';
  }
  // Into the first field to fill; the close button when the form is disabled (environment).
  const inputs = ['#server-url', '#server-user', '#server-key'].map((id) => $(id)).filter((input) => !input.matches(':disabled'));
  (inputs.find((input) => !input.value) ?? inputs[0] ?? $('#server-panel-close')).focus();
}

function close() {
  const region = panel();
  if (region.hidden) return;
  const hadFocus = region.contains(document.activeElement) || document.activeElement === document.body;
  region.hidden = true;
  const button = $('#server-account');
  button.setAttribute('aria-expanded', 'false');
  if (hadFocus) button.focus();
}

/** Say `content` in #server-message; `state` is busy, waiting, restarting or error. */
function say(state, ...content) {
  const box = $('#server-message');
  if (state) box.dataset.state = state;
  else delete box.dataset.state;
  box.replaceChildren(...content.flat().filter((part) => part != null && part !== '')
    .map((part) => (part instanceof Node ? part : document.createTextNode(String(part)))));
}

function setBusy(value) {
  busy = value;
  shell?.update({});
}

/** Back to `el` when disabling it while busy dropped the focus to the page. */
function refocus(el) {
  const lost = !document.activeElement || document.activeElement === document.body;
  if (lost && el?.isConnected && !el.disabled && !panel().hidden) el.focus();
}

/** The form's fields, trimmed (the key as typed). */
function fields() {
  return {
    server: $('#server-url').value.trim(),
    api_user: $('#server-user').value.trim(),
    api_key: $('#server-key').value,
  };
}

/** Mark the empty ones of `ids` invalid and focus the first; whether all are filled. */
function demand(ids) {
  let first = null;
  for (const id of ['#server-url', '#server-user', '#server-key']) {
    const input = $(id);
    const missing = ids.includes(id) && !input.value.trim();
    if (missing) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    if (missing && !first) first = input;
  }
  first?.focus();
  return !first;
}

// ---------------------------------------------------------------------------
// Signing in and out

async function signIn(event) {
  event.preventDefault();
  if (busy || restarting || $('#server-fields').disabled) return;
  const asked = fields();
  if (!demand(['#server-url', '#server-user', '#server-key'])) {
    say('error', 'Give the server, the user and the API key.');
    return;
  }
  say('busy', `Signing in to ${asked.server}…`);
  await call('/api/server/signin', asked, 'Could not sign in');
}

async function signOut() {
  if (busy || restarting || !server) return;
  say('busy', `Signing out of ${server.url}…`);
  await call('/api/server/signout', undefined, 'Could not sign out');
}

/** POST `json` to `path`; on its `{restarting, reopen}`, wait for the host and reopen. */
async function call(path, json, failed) {
  const focused = document.activeElement;
  setBusy(true);
  let answer;
  try {
    answer = await request(path, { json: json ?? {} });
  } catch (err) {
    if (err instanceof Unauthorized) return;
    answer = { ok: false, error: err.message };
  } finally {
    $('#server-key').value = ''; // never left behind, whatever the outcome
    setBusy(false);
  }
  if (!answer.ok) {
    say('error', `${failed}: ${answer.error}`);
    refocus(focused);
    return;
  }
  const reopen = answer.data?.reopen;
  if (answer.data?.restarting && typeof reopen === 'string' && reopen.startsWith('/signin/')) {
    await restartThenReopen(reopen);
  } else {
    say('error', 'The host did not say how to open the window again; reload the page.');
  }
}

async function signInThroughBrowser() {
  if (busy || restarting || $('#server-fields').disabled) return;
  const { server: site } = fields();
  const focused = document.activeElement;
  if (!demand(['#server-url'])) {
    say('error', 'Give the server to sign in to.');
    return;
  }
  $('#server-key').value = '';
  say('busy', `Asking for ${site}'s sign-in page…`);
  setBusy(true);
  let answer;
  try {
    answer = await request('/api/server/browser', { json: { server: site } });
  } catch (err) {
    if (err instanceof Unauthorized) return;
    answer = { ok: false, error: err.message };
  } finally {
    setBusy(false);
  }
  refocus(focused);
  const url = answer.data?.url;
  if (!answer.ok || typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
    say('error', `Could not sign in to ${site} through the browser: ${answer.error ?? 'the host gave no address'}`);
    return;
  }
  // From now on the host may restart under this page: say so rather than "not signed in".
  session.browserSignIn = true;
  window.open(url, '_blank', 'noopener');
  say('waiting',
    `Confirm the sign-in on ${site}'s page, opened in a new tab. The host then restarts, and the server's page brings the browser back to this window, signed in. `,
    'No page opened? Open ',
    h('a', { id: 'server-browser-link', href: url, target: '_blank', rel: 'noopener noreferrer' }, `${site}'s sign-in page`),
    '.');
}

/** Which run of the window answers (GET /static/instance needs no session), or null. */
async function instance() {
  try {
    const answer = await fetch('/static/instance', { cache: 'no-store', credentials: 'omit' });
    return answer.ok ? (await answer.json()).instance ?? null : null;
  } catch {
    return null;
  }
}

/**
 * The host restarts: wait until it answers again, then follow `reopen`, the restarted
 * window's one-time link, which gives this page a new session.
 */
async function restartThenReopen(reopen) {
  restarting = true;
  session.restarting = true; // the 401s of the restarted host do not end the page (dom.js)
  const before = await instance();
  shell?.stopLive?.();
  shell?.update({});
  say('restarting', 'Restarting the host…');
  const began = performance.now();
  while (performance.now() - began < POLL_FOR_MS) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    // The restarted window says it is another run: only then is the link its to take.
    const now = await instance();
    if (now && now !== before) {
      // The hash comes through the link's redirect: the window opens on the same tab.
      location.assign(reopen + location.hash);
      return;
    }
  }
  say('error', 'The host did not come back within a minute. Check that ftrack-connect runs, then ',
    h('a', { href: reopen + location.hash }, 'open the window again'),
    ' (or run ', h('code', {}, 'ftrack-connect open'), ').');
}
