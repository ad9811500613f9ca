/**
 * The entity browser: search, my tasks, projects, the picked context's path and its
 * children, and the recent contexts. The Actions tab picks the context of its actions with
 * it, and the Publish tab its linked entity (one browser each, in their own panels).
 *
 *  - Lazy: a listing is fetched when it is asked for (GET /api/contexts?...), never the
 *    whole tree. Each listing carries a sequence number so that a slow answer never
 *    overwrites a newer one.
 *  - Picking a context (a list row, a crumb, a recent entry, `open(id)`) makes it current,
 *    tells the owner (`onChange`), remembers it (POST /api/recent) unless told not to, and
 *    lists its children unless it is a task.
 *  - Recent contexts are one list for every browser: `loadRecent(answer)` shows GET
 *    /api/recent's answer in all of them, and each pick's POST answer replaces it everywhere.
 *
 * `createBrowser({ prefix, label, onChange })` returns `{ element, current, pendingId, pick,
 * open, showListing, showError }`; `onChange(context, { picked })` runs on a new pick
 * (`picked` true) and when the server names the current context's type (`picked` false).
 * Element ids are the prefix then: context-search, my-tasks, all-projects, context-path (a
 * nav whose buttons carry data-context-id, "" for Projects), context-list-label,
 * context-error, context-list (li > button.context[data-context-id][data-context-type]),
 * recent-heading, recent-contexts (buttons [data-context-id]).
 */

import { api, h, setText, Unauthorized } from './dom.js';

const SEARCH_DELAY_MS = 250;

export const contextPath = (id) => `/api/contexts/${encodeURIComponent(id)}`;

export const contextsOf = (body) => (Array.isArray(body?.contexts) ? body.contexts.filter((c) => c && c.id) : []);

/** "showa / sq010 / sh0010 / comp": the context's path, or its name. */
export function pathText(context) {
  const names = Array.isArray(context.link) && context.link.length ? context.link.map((step) => step.name) : [context.name];
  return names.join(' / ');
}

/** The context at `link[index]`, as the list would give it. */
function contextFromLink(link, index) {
  const step = link[index];
  return { id: step.id, name: step.name, type: index === 0 ? 'Project' : step.type, link: link.slice(0, index + 1) };
}

/** The listing that shows where `context` is: its children, or a task's siblings. */
function levelOf(context) {
  if (context.type !== 'Task') return { kind: 'children', of: context };
  const link = context.link ?? [];
  return link.length > 1 ? { kind: 'children', of: contextFromLink(link, link.length - 2) } : { kind: 'projects' };
}

const LISTINGS = {
  projects: () => ['/api/contexts', 'Projects', 'No projects.'],
  mine: () => ['/api/contexts?mine=1', 'My tasks', 'No tasks are assigned to you.'],
  children: ({ of }) => [`/api/contexts?parent=${encodeURIComponent(of.id)}`, `In ${of.name}`, `Nothing under ${of.name}.`],
  search: ({ text }) => [`/api/contexts?search=${encodeURIComponent(text)}`, `Names with “${text}”`, `No name contains “${text}”.`],
};

// ---------------------------------------------------------------------------
// Recent contexts, shared by every browser

const recentState = {
  contexts: null, // null until known
  error: null,
  /** Whether POST /api/recent answered yet: its list is newer than any GET's. */
  posted: false,
  seq: 0,
  /** The last loadRecent's promise. */
  pending: null,
};
const browsers = new Set();

function setRecent(contexts, error = null) {
  recentState.contexts = contexts;
  recentState.error = error;
  for (const browser of browsers) browser.renderRecent();
}

/**
 * Show GET /api/recent's `answer` in every browser, unless a pick said something newer
 * since. Resolves with its contexts; rejects as the answer does (after saying so).
 */
export function loadRecent(answer = api('/api/recent')) {
  const n = ++recentState.seq;
  const loaded = answer.then(
    (body) => {
      const contexts = contextsOf(body);
      if (n === recentState.seq && !recentState.posted) setRecent(contexts);
      return contexts;
    },
    (err) => {
      if (!(err instanceof Unauthorized) && !recentState.posted) setRecent([], `Could not read recent contexts: ${err.message}`);
      throw err;
    },
  );
  recentState.pending = loaded;
  return loaded;
}

/** The recent contexts, asked for once (or the answer already on its way). */
export function recentOnce() {
  return recentState.pending ?? loadRecent();
}

// ---------------------------------------------------------------------------
// One browser

export function createBrowser({ prefix = '', label = 'Contexts', onChange = () => {} } = {}) {
  const id = (name) => `${prefix}${name}`;

  /** The picked context ({id, name, type, link}), or null. */
  let current = null;
  /** What the list shows: { kind: 'projects' | 'children' | 'search' | 'mine', of?, text? }. */
  let listing = null;
  /** The id of a context being opened by `open`. */
  let pendingId = '';
  let listSeq = 0;
  let searchTimer = 0;
  /** The contexts in the list and in Recent, by id. */
  let listed = new Map();
  let recent = new Map();

  const search = h('input', {
    id: id('context-search'), type: 'search', class: 'input', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Project, shot or task name', 'aria-controls': id('context-list'),
    oninput: onSearchInput, onkeydown: onSearchKey,
  });
  const crumbs = h('ol', { onclick: onCrumbClick });
  const listLabel = h('p', { id: id('context-list-label'), class: 'list-label', role: 'status' });
  const errorBox = h('div', { id: id('context-error'), class: 'alert', role: 'alert' });
  const list = h('ul', {
    id: id('context-list'), class: 'context-list', 'aria-labelledby': id('context-list-label'),
    onclick: onListClick, onkeydown: onListKey, onfocusin: onListFocus,
  });
  const recentList = h('ul', {
    id: id('recent-contexts'), class: 'context-list recent', 'aria-labelledby': id('recent-heading'),
    onclick: onRecentClick, onkeydown: onListKey, onfocusin: onListFocus,
  });
  const element = h('div', { class: 'browser', role: 'region', 'aria-label': label },
    h('div', { class: 'field' }, h('label', { for: id('context-search'), class: 'field-label' }, 'Search'), search),
    h('div', { class: 'button-row' },
      h('button', { id: id('my-tasks'), type: 'button', class: 'btn', onclick: () => showListing({ kind: 'mine' }) }, 'My tasks'),
      h('button', { id: id('all-projects'), type: 'button', class: 'btn', onclick: () => showListing({ kind: 'projects' }) }, 'All projects')),
    h('nav', { id: id('context-path'), class: 'crumbs', 'aria-label': 'Context' }, crumbs),
    listLabel,
    errorBox,
    list,
    h('h3', { id: id('recent-heading'), class: 'list-heading' }, 'Recent'),
    recentList);

  // -------------------------------------------------------------------------
  // Picking

  /**
   * Make `context` current. `remember`: add it to the recent list. `level`: when it is a
   * task (no children), list its siblings, for picks that did not come from the list.
   */
  function pick(context, { remember = true, level = false } = {}) {
    current = context;
    pendingId = '';
    onChange(context, { picked: true }); // first: the owner's work is what the user waits for
    renderCrumbs();
    markCurrent();
    if (remember) rememberPick(context);
    if (context.type !== 'Task') showListing({ kind: 'children', of: context });
    else if (level && Array.isArray(context.link) && context.link.length > 1) {
      showListing({ kind: 'children', of: contextFromLink(context.link, context.link.length - 2) });
    }
  }

  /**
   * Pick the context `contextId`, which `answer` (of GET /api/contexts/{id}) holds; the
   * projects if it is not there. Resolves true when picked, false when not, null when
   * something else was picked meanwhile (or the session ended).
   */
  function open(contextId, answer = api(contextPath(contextId))) {
    pendingId = contextId;
    return answer.then(
      (body) => {
        if (pendingId !== contextId) return null;
        pendingId = '';
        const context = contextsOf(body)[0];
        if (context) {
          pick(context, { remember: true, level: true });
          return true;
        }
        showListing({ kind: 'projects' });
        return false;
      },
      (err) => {
        if (err instanceof Unauthorized || pendingId !== contextId) return null;
        pendingId = '';
        showError(`Could not open the linked context: ${err.message}`);
        if (!current) showListing({ kind: 'projects' });
        return false;
      },
    );
  }

  async function rememberPick(context) {
    try {
      const body = await api('/api/recent', { method: 'POST', body: { id: context.id } });
      recentState.posted = true;
      recentState.seq += 1;
      const contexts = contextsOf(body);
      // A context made from a crumb has the link's type ("TypedContext"): take the server's.
      const known = contexts.find((c) => c.id === context.id);
      if (known && current === context && known.type !== context.type) {
        current = { ...context, type: known.type };
        onChange(current, { picked: false });
        markCurrent();
      }
      setRecent(contexts);
    } catch (err) {
      if (!(err instanceof Unauthorized)) showError(`Could not add ${context.name} to Recent: ${err.message}`);
    }
  }

  /**
   * aria-current on every button of the picked context, in the list and in Recent; and each
   * list's one Tab stop (roving tabindex: arrows move within a list, Tab leaves it).
   */
  function markCurrent() {
    for (const each of [list, recentList]) {
      const buttons = [...each.querySelectorAll('button[data-context-id]')];
      for (const button of buttons) {
        if (current && button.dataset.contextId === current.id) button.setAttribute('aria-current', 'true');
        else button.removeAttribute('aria-current');
      }
      const stop = buttons.find((b) => b === document.activeElement) ?? buttons.find((b) => b.hasAttribute('aria-current')) ?? buttons[0];
      for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
    }
  }

  function onListFocus(event) {
    const button = event.target.closest('button');
    if (!button) return;
    for (const other of event.currentTarget.querySelectorAll('button')) other.tabIndex = other === button ? 0 : -1;
  }

  function onListKey(event) {
    const buttons = [...event.currentTarget.querySelectorAll('button')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, next))].focus();
  }

  function renderCrumbs() {
    const link = Array.isArray(current?.link) ? current.link : [];
    const items = [h('li', {}, h('button', { type: 'button', class: 'crumb', dataset: { contextId: '' } }, 'Projects'))];
    link.forEach((step, index) => {
      const last = index === link.length - 1;
      items.push(h('li', {}, h('button', {
        type: 'button', class: 'crumb', dataset: { contextId: String(step.id), index: String(index) },
        'aria-current': last ? 'location' : null,
      }, String(step.name ?? step.id))));
    });
    crumbs.replaceChildren(...items);
  }

  function onCrumbClick(event) {
    const button = event.target.closest('button[data-context-id]');
    if (!button) return;
    if (!button.dataset.contextId) return showListing({ kind: 'projects' }, { focusList: true });
    const index = Number(button.dataset.index);
    if (button.dataset.contextId === current?.id) {
      // The current context: show its level again (after a search, say).
      return showListing(levelOf(current), { focusList: true });
    }
    pick(contextFromLink(current.link, index));
  }

  // -------------------------------------------------------------------------
  // The list

  function onListClick(event) {
    const button = event.target.closest('button.context');
    const context = button && listed.get(button.dataset.contextId);
    if (context) pick(context);
  }

  function onRecentClick(event) {
    const button = event.target.closest('button[data-context-id]');
    const context = button && recent.get(button.dataset.contextId);
    if (context) pick(context, { level: true });
  }

  async function showListing(next, { focusList = false } = {}) {
    if (next.kind !== 'search') {
      search.value = '';
      clearTimeout(searchTimer);
    }
    listing = next;
    const n = ++listSeq;
    const [path, title, empty] = LISTINGS[next.kind](next);
    const focused = focusList || list.contains(document.activeElement);
    setText(listLabel, `${title}: loading…`);
    setText(errorBox, '');
    list.setAttribute('aria-busy', 'true');
    let contexts;
    try {
      contexts = contextsOf(await api(path));
    } catch (err) {
      if (err instanceof Unauthorized || n !== listSeq) return;
      list.removeAttribute('aria-busy');
      setText(listLabel, title);
      showError(`Could not list contexts: ${err.message}`);
      return;
    }
    if (n !== listSeq) return;
    list.removeAttribute('aria-busy');
    setText(listLabel, `${title} (${contexts.length})`);
    listed = new Map(contexts.map((c) => [String(c.id), c]));
    list.replaceChildren(...(contexts.length ? contexts.map(contextRow) : [h('li', { class: 'empty' }, empty)]));
    markCurrent();
    if (focused) (list.querySelector('button') ?? search).focus();
  }

  function contextRow(context) {
    const type = String(context.type ?? '');
    return h('li', {}, h('button', {
      type: 'button', class: 'context', dataset: { contextId: String(context.id), contextType: type },
    }, h('span', { class: 'context-name' }, String(context.name ?? context.id)), h('span', { class: 'context-type' }, type)));
  }

  function renderRecent() {
    if (recentState.contexts === null) {
      recentList.replaceChildren(h('li', { class: 'empty' }, 'Loading…'));
      return;
    }
    const contexts = recentState.contexts;
    recent = new Map(contexts.map((c) => [String(c.id), c]));
    const rows = contexts.map((context) => {
      const parents = Array.isArray(context.link) ? context.link.slice(0, -1).map((step) => step.name).join(' / ') : '';
      return h('li', {}, h('button', {
        type: 'button', class: 'context', dataset: { contextId: String(context.id), contextType: String(context.type ?? '') },
      }, h('span', { class: 'context-name' }, String(context.name ?? context.id)),
      parents ? h('span', { class: 'context-parents' }, parents) : null));
    });
    const focused = recentList.contains(document.activeElement) ? document.activeElement.dataset.contextId : null;
    recentList.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, recentState.error ?? 'Nothing picked yet.')]));
    markCurrent();
    if (focused != null) (recentList.querySelector(`button[data-context-id="${CSS.escape(focused)}"]`) ?? recentList.querySelector('button'))?.focus();
  }

  function showError(message) {
    setText(errorBox, message);
  }

  // Search: as the user types (debounced), at once on Enter; Escape clears.

  function onSearchInput() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, SEARCH_DELAY_MS);
  }

  function onSearchKey(event) {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(searchTimer);
      runSearch();
    } else if (event.key === 'Escape' && event.target.value) {
      event.preventDefault();
      event.target.value = '';
      clearTimeout(searchTimer);
      runSearch();
    }
  }

  function runSearch() {
    const text = search.value.trim();
    if (text) {
      if (listing?.kind !== 'search' || listing.text !== text) showListing({ kind: 'search', text });
    } else if (listing?.kind === 'search') {
      showListing(current ? levelOf(current) : { kind: 'projects' });
    }
  }

  const browser = {
    element,
    get current() { return current; },
    get pendingId() { return pendingId; },
    /** Whether the list was ever asked for. */
    get listed() { return listing !== null; },
    pick,
    open,
    showListing,
    showError,
    renderRecent,
    /** Focus where picking starts: the list's Tab stop, else the search box. */
    focus() {
      (list.querySelector('button[tabindex="0"]') ?? search).focus();
    },
  };
  browsers.add(browser);
  renderCrumbs();
  renderRecent();
  return browser;
}
