/**
 * The Actions tab: an entity browser on the left (search, my tasks, projects, the picked
 * context's path and its children, recent contexts), and on the right the actions the
 * plugins offer for the picked context, launched with one click.
 *
 *  - Lazy: a listing is fetched when it is asked for (GET /api/contexts?...), never the
 *    whole tree. Each listing, discovery and pick carries a sequence number so that a slow
 *    answer never overwrites a newer one.
 *  - Picking a context (a list row, a crumb, a recent entry, the URL #actions/<id>, or at
 *    start the most recent one) makes it current, remembers it (POST /api/recent), lists its
 *    children unless it is a task, and discovers its actions (POST /api/actions/discover).
 *  - The first fetches start as this module loads, before the shell's own, when the URL
 *    routes here: the first paint of Actions with a selected task is what users wait for.
 *
 * Test hooks: #context-search, #my-tasks, #all-projects, nav#context-path buttons
 * [data-context-id] ("" for Projects), ul#context-list > li > button.context
 * [data-context-id][data-context-type], ul#recent-contexts buttons [data-context-id],
 * #current-context, #refresh-actions, #action-groups (aria-busy while discovering) with
 * section.action-group[data-label] and button.action[data-action-identifier][data-variant],
 * #action-result[data-success], #context-error; body[data-actions-ready="true"] and
 * window.connectActionsPaint once the actions of the first picked context have rendered.
 */

import { $, api, h, route, setText, Unauthorized } from './dom.js';

export const actionsTab = { id: 'actions', label: 'Actions', mount, render() {}, show, hash };

const SEARCH_DELAY_MS = 250;

/** The picked context ({id, name, type, link}), or null. */
let current = null;
/** What the list shows: { kind: 'projects' | 'children' | 'search' | 'mine', of?, text? }. */
let listing = null;
/** The id of a linked context (#actions/<id>) being fetched: the URL keeps it meanwhile. */
let pendingId = '';
let started = false;
let panelEl = null;

const contextPath = (id) => `/api/contexts/${encodeURIComponent(id)}`;

// Sequence numbers: an answer applies only if nothing newer was asked since.
const seq = { list: 0, discover: 0, recent: 0 };
/** Whether POST /api/recent answered yet: its list is newer than the first GET's. */
let recentPosted = false;

// ---------------------------------------------------------------------------
// Early start: while the shell is still loading, ask for what the first paint needs.

function prefetch(arg) {
  const early = { arg, recent: api('/api/recent'), context: arg ? api(contextPath(arg)) : null };
  // Handled in `begin`; until then, do not report a rejection as unhandled.
  early.recent.catch(() => {});
  early.context?.catch(() => {});
  return early;
}

let early = null;
{
  const { tab, arg } = route();
  if (tab === '' || tab === 'actions') early = prefetch(tab === 'actions' ? arg : '');
}

// ---------------------------------------------------------------------------
// Tab

function mount(panel) {
  panelEl = panel;
  const search = h('input', {
    id: 'context-search', type: 'search', class: 'input', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Project, shot or task name', 'aria-controls': 'context-list',
    oninput: onSearchInput, onkeydown: onSearchKey,
  });
  panel.append(
    h('h2', { class: 'sr-only' }, 'Actions'),
    h('div', { class: 'actions-layout' },
      h('div', { class: 'browser', role: 'region', 'aria-label': 'Contexts' },
        h('div', { class: 'field' }, h('label', { for: 'context-search', class: 'field-label' }, 'Search'), search),
        h('div', { class: 'button-row' },
          h('button', { id: 'my-tasks', type: 'button', class: 'btn', onclick: () => showListing({ kind: 'mine' }) }, 'My tasks'),
          h('button', { id: 'all-projects', type: 'button', class: 'btn', onclick: () => showListing({ kind: 'projects' }) }, 'All projects')),
        h('nav', { id: 'context-path', class: 'crumbs', 'aria-label': 'Context' }, h('ol', {})),
        h('p', { id: 'context-list-label', class: 'list-label', role: 'status' }),
        h('div', { id: 'context-error', class: 'alert', role: 'alert' }),
        h('ul', {
          id: 'context-list', class: 'context-list', 'aria-labelledby': 'context-list-label',
          onclick: onListClick, onkeydown: onListKey, onfocusin: onListFocus,
        }),
        h('h3', { id: 'recent-heading', class: 'list-heading' }, 'Recent'),
        h('ul', {
          id: 'recent-contexts', class: 'context-list recent', 'aria-labelledby': 'recent-heading',
          onclick: onRecentClick, onkeydown: onListKey, onfocusin: onListFocus,
        },
          h('li', { class: 'empty' }, 'Loading…'))),
      h('div', { class: 'actions-main' },
        h('div', { class: 'current-row' },
          h('h2', { id: 'current-context', class: 'current', tabindex: '-1' }, 'No context picked'),
          h('span', { id: 'current-type', class: 'type-badge', hidden: true }),
          h('button', {
            id: 'refresh-actions', type: 'button', class: 'btn btn-small', disabled: true,
            'aria-label': 'Refresh actions', onclick: refreshActions,
          },
            'Refresh')),
        h('div', { id: 'action-result', class: 'action-result', role: 'status' }),
        h('div', { id: 'action-groups', class: 'action-groups', role: 'region', 'aria-labelledby': 'current-context' },
          h('p', { class: 'muted' }, 'Pick a project, shot or task to see its actions.')))),
  );
  renderCrumbs();
}

function show(panel, arg) {
  if (!started) {
    started = true;
    begin(arg);
  } else if (arg && arg !== current?.id) {
    pickById(arg);
  }
}

/** The URL hash of this tab: the picked context's, so a reload or a link comes back to it. */
function hash() {
  const id = pendingId || current?.id;
  return id ? `actions/${encodeURIComponent(id)}` : 'actions';
}

/** First show: the linked context (#actions/<id>), or else the most recent one. */
function begin(arg) {
  const asked = early && early.arg === arg ? early : prefetch(arg);
  early = null;
  const n = ++seq.recent;
  asked.recent.then(
    (body) => {
      const contexts = contextsOf(body);
      if (n === seq.recent && !recentPosted) renderRecent(contexts);
      if (!arg && !current) {
        if (contexts[0]) pick(contexts[0], { remember: false, level: true });
        else showListing({ kind: 'projects' });
      }
    },
    (err) => {
      if (err instanceof Unauthorized) return;
      if (!recentPosted) renderRecent([], `Could not read recent contexts: ${err.message}`);
      if (!arg && !current) showListing({ kind: 'projects' });
    },
  );
  if (asked.context) openContext(arg, asked.context);
}

function pickById(id) {
  openContext(id, api(contextPath(id)));
}

/** Pick the context `id`, which `answer` (of GET /api/contexts/{id}) holds; else the projects. */
function openContext(id, answer) {
  pendingId = id;
  answer.then(
    (body) => {
      if (pendingId !== id) return;
      pendingId = '';
      const context = contextsOf(body)[0];
      if (context) pick(context, { remember: true, level: true });
      else showListing({ kind: 'projects' });
    },
    (err) => {
      if (err instanceof Unauthorized || pendingId !== id) return;
      pendingId = '';
      showError(`Could not open the linked context: ${err.message}`);
      if (!panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
      if (!current) showListing({ kind: 'projects' });
    },
  );
}

const contextsOf = (body) => (Array.isArray(body?.contexts) ? body.contexts.filter((c) => c && c.id) : []);

// ---------------------------------------------------------------------------
// Picking

/**
 * Make `context` current. `remember`: add it to the recent list. `level`: when it is a task
 * (no children), list its siblings, for picks that did not come from the list.
 */
function pick(context, { remember = true, level = false } = {}) {
  current = context;
  pendingId = '';
  discover(); // first: it is what the user waits for
  renderCurrent();
  clearResult();
  if (!panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
  if (remember) rememberPick(context);
  if (context.type !== 'Task') showListing({ kind: 'children', of: context });
  else if (level && Array.isArray(context.link) && context.link.length > 1) {
    showListing({ kind: 'children', of: contextFromLink(context.link, context.link.length - 2) });
  }
}

/** The context at `link[index]`, as the list would give it. */
function contextFromLink(link, index) {
  const step = link[index];
  return { id: step.id, name: step.name, type: index === 0 ? 'Project' : step.type, link: link.slice(0, index + 1) };
}

/** ftrack's web page sends "show" for projects and "task" for every other TypedContext. */
const selectionOf = (context) => [{ entityType: context.type === 'Project' ? 'show' : 'task', entityId: context.id }];

async function rememberPick(context) {
  try {
    const body = await api('/api/recent', { method: 'POST', body: { id: context.id } });
    recentPosted = true;
    seq.recent += 1;
    const contexts = contextsOf(body);
    // A context made from a crumb has the link's type ("TypedContext"): take the server's.
    const known = contexts.find((c) => c.id === context.id);
    if (known && current === context && known.type !== context.type) {
      current = { ...context, type: known.type };
      renderCurrent();
    }
    renderRecent(contexts);
  } catch (err) {
    if (!(err instanceof Unauthorized)) showError(`Could not add ${context.name} to Recent: ${err.message}`);
  }
}

const pathText = (context) => {
  const names = Array.isArray(context.link) && context.link.length ? context.link.map((step) => step.name) : [context.name];
  return names.join(' / ');
};

function renderCurrent() {
  const heading = $('#current-context', panelEl);
  const type = $('#current-type', panelEl);
  setText(heading, current ? pathText(current) : 'No context picked');
  const shownType = current?.type === 'TypedContext' ? '' : current?.type ?? '';
  setText(type, shownType);
  type.hidden = !shownType;
  $('#refresh-actions', panelEl).disabled = !current;
  renderCrumbs();
  markCurrent();
}

/**
 * aria-current on every button of the picked context, in the list and in Recent; and each
 * list's one Tab stop (roving tabindex: arrows move within a list, Tab leaves it).
 */
function markCurrent() {
  for (const list of panelEl.querySelectorAll('.context-list')) {
    const buttons = [...list.querySelectorAll('button[data-context-id]')];
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
  const crumbs = [h('li', {}, h('button', { type: 'button', class: 'crumb', dataset: { contextId: '' } }, 'Projects'))];
  link.forEach((step, index) => {
    const last = index === link.length - 1;
    crumbs.push(h('li', {}, h('button', {
      type: 'button', class: 'crumb', dataset: { contextId: String(step.id), index: String(index) },
      'aria-current': last ? 'location' : null,
    }, String(step.name ?? step.id))));
  });
  const list = $('#context-path ol', panelEl);
  list.replaceChildren(...crumbs);
  list.onclick = onCrumbClick;
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

/** The listing that shows where `context` is: its children, or a task's siblings. */
function levelOf(context) {
  if (context.type !== 'Task') return { kind: 'children', of: context };
  const link = context.link ?? [];
  return link.length > 1 ? { kind: 'children', of: contextFromLink(link, link.length - 2) } : { kind: 'projects' };
}

// ---------------------------------------------------------------------------
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

/** The contexts in the list and in Recent, by id. */
let listed = new Map();
let recent = new Map();

const LISTINGS = {
  projects: () => ['/api/contexts', 'Projects', 'No projects.'],
  mine: () => ['/api/contexts?mine=1', 'My tasks', 'No tasks are assigned to you.'],
  children: ({ of }) => [`/api/contexts?parent=${encodeURIComponent(of.id)}`, `In ${of.name}`, `Nothing under ${of.name}.`],
  search: ({ text }) => [`/api/contexts?search=${encodeURIComponent(text)}`, `Names with “${text}”`, `No name contains “${text}”.`],
};

async function showListing(next, { focusList = false } = {}) {
  if (next.kind !== 'search') {
    const search = $('#context-search', panelEl);
    search.value = '';
    cancelSearch();
  }
  listing = next;
  const n = ++seq.list;
  const [path, label, empty] = LISTINGS[next.kind](next);
  const list = $('#context-list', panelEl);
  const focused = focusList || list.contains(document.activeElement);
  setText($('#context-list-label', panelEl), `${label}: loading…`);
  setText($('#context-error', panelEl), '');
  list.setAttribute('aria-busy', 'true');
  let contexts;
  try {
    contexts = contextsOf(await api(path));
  } catch (err) {
    if (err instanceof Unauthorized || n !== seq.list) return;
    list.removeAttribute('aria-busy');
    setText($('#context-list-label', panelEl), label);
    showError(`Could not list contexts: ${err.message}`);
    return;
  }
  if (n !== seq.list) return;
  list.removeAttribute('aria-busy');
  setText($('#context-list-label', panelEl), `${label} (${contexts.length})`);
  listed = new Map(contexts.map((c) => [String(c.id), c]));
  list.replaceChildren(...(contexts.length ? contexts.map(contextRow) : [h('li', { class: 'empty' }, empty)]));
  markCurrent();
  if (focused) ($('button', list) ?? $('#context-search', panelEl)).focus();
}

function contextRow(context) {
  const type = String(context.type ?? '');
  return h('li', {}, h('button', {
    type: 'button', class: 'context', dataset: { contextId: String(context.id), contextType: type },
  }, h('span', { class: 'context-name' }, String(context.name ?? context.id)), h('span', { class: 'context-type' }, type)));
}

function renderRecent(contexts, error) {
  recent = new Map(contexts.map((c) => [String(c.id), c]));
  const rows = contexts.map((context) => {
    const parents = Array.isArray(context.link) ? context.link.slice(0, -1).map((step) => step.name).join(' / ') : '';
    return h('li', {}, h('button', {
      type: 'button', class: 'context', dataset: { contextId: String(context.id), contextType: String(context.type ?? '') },
    }, h('span', { class: 'context-name' }, String(context.name ?? context.id)),
    parents ? h('span', { class: 'context-parents' }, parents) : null));
  });
  const list = $('#recent-contexts', panelEl);
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.contextId : null;
  list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, error ?? 'Nothing picked yet.')]));
  markCurrent();
  if (focused != null) ($(`button[data-context-id="${CSS.escape(focused)}"]`, list) ?? $('button', list))?.focus();
}

function showError(message) {
  setText($('#context-error', panelEl), message);
}

// Search: as the user types (debounced), at once on Enter; Escape clears.
let searchTimer = 0;

function cancelSearch() {
  clearTimeout(searchTimer);
}

function onSearchInput() {
  cancelSearch();
  searchTimer = setTimeout(runSearch, SEARCH_DELAY_MS);
}

function onSearchKey(event) {
  if (event.key === 'Enter') {
    event.preventDefault();
    cancelSearch();
    runSearch();
  } else if (event.key === 'Escape' && event.target.value) {
    event.preventDefault();
    event.target.value = '';
    cancelSearch();
    runSearch();
  }
}

function runSearch() {
  const text = $('#context-search', panelEl).value.trim();
  if (text) {
    if (listing?.kind !== 'search' || listing.text !== text) showListing({ kind: 'search', text });
  } else if (listing?.kind === 'search') {
    showListing(current ? levelOf(current) : { kind: 'projects' });
  }
}

// ---------------------------------------------------------------------------
// Actions

function refreshActions() {
  if (current) discover();
}

async function discover() {
  const context = current;
  const n = ++seq.discover;
  const groups = $('#action-groups', panelEl);
  groups.setAttribute('aria-busy', 'true');
  groups.replaceChildren(h('p', { class: 'muted busy' }, 'Looking for actions…'));
  let body;
  try {
    body = await api('/api/actions/discover', { method: 'POST', body: { selection: selectionOf(context) } });
  } catch (err) {
    if (err instanceof Unauthorized || n !== seq.discover) return;
    groups.removeAttribute('aria-busy');
    groups.replaceChildren(h('p', { class: 'alert inline' }, `Could not look for actions: ${err.message}`));
    markActionsReady();
    return;
  }
  if (n !== seq.discover) return;
  const found = Array.isArray(body?.groups) ? body.groups.filter((g) => Array.isArray(g?.items) && g.items.length) : [];
  groups.replaceChildren(...(found.length
    ? [h('div', { class: 'action-grid' }, found.map(groupSection))]
    : [h('p', { class: 'muted empty-actions' }, 'No actions for this context')]));
  groups.removeAttribute('aria-busy');
  markActionsReady();
}

function markActionsReady() {
  if (document.body.dataset.actionsReady === 'true') return;
  // The time first, so a test that waits for the flag sees a number.
  window.connectActionsPaint = performance.now();
  // Also in the DOM, for scripts/bench-window.sh, which reads the page with --dump-dom.
  document.body.dataset.actionsPaint = String(Math.round(window.connectActionsPaint));
  document.body.dataset.actionsReady = 'true';
}

const hasVariant = (item) => item.variant != null && String(item.variant) !== '';
let groupIds = 0;

/** One group: a single button, or a heading with one button per variant. */
function groupSection(group) {
  const items = group.items;
  const label = String(group.label ?? items[0].label ?? 'Action');
  const icon = iconOf(items.find((item) => typeof item.icon === 'string')?.icon, label);
  const description = items.find((item) => item.description)?.description;
  if (items.length === 1 && !hasVariant(items[0])) {
    return h('section', { class: 'action-group single', dataset: { label } },
      actionButton(items[0], label, { class: 'action tile', content: [
        icon,
        h('span', { class: 'action-text' },
          h('span', { class: 'action-label' }, label),
          description ? h('span', { class: 'action-description' }, String(description)) : null),
      ] }));
  }
  const id = `action-group-${++groupIds}`;
  return h('section', { class: 'action-group', dataset: { label }, 'aria-labelledby': id },
    h('div', { class: 'group-head' },
      icon,
      h('div', { class: 'action-text' },
        h('h3', { id, class: 'action-label' }, label),
        description ? h('p', { class: 'action-description' }, String(description)) : null)),
    h('div', { class: 'variants' }, items.map((item) => {
      const variant = hasVariant(item) ? String(item.variant) : String(item.label ?? label);
      return actionButton(item, label, {
        class: 'action variant', content: [variant], name: hasVariant(item) ? `${label} ${variant}` : variant,
      });
    })));
}

function actionButton(item, label, { class: cls, content, name = null }) {
  const variant = hasVariant(item) ? String(item.variant) : '';
  const shown = name ?? label;
  return h('button', {
    type: 'button', class: cls, 'aria-label': name,
    title: item.description && cls.includes('variant') ? String(item.description) : null,
    dataset: { actionIdentifier: String(item.actionIdentifier ?? ''), variant },
    onclick: (event) => launch(item, event.currentTarget, shown),
  }, content);
}

/** The item's icon when the page may show it (CSP: img-src 'self' data:), else a letter. */
function iconOf(icon, label) {
  if (typeof icon === 'string' && iconAllowed(icon)) {
    const img = h('img', { class: 'action-icon', src: icon, alt: '', width: 36, height: 36, decoding: 'async' });
    img.addEventListener('error', () => img.replaceWith(avatar(label)), { once: true });
    return img;
  }
  return avatar(label);
}

function iconAllowed(icon) {
  if (/^data:image\//i.test(icon)) return true;
  if (!icon.startsWith('/') && !/^https?:\/\//i.test(icon)) return false;
  try {
    return new URL(icon, location.href).origin === location.origin; // "/\host" is another host
  } catch {
    return false;
  }
}

/** A coloured square with the label's first letter; the colour follows from the label. */
function avatar(label) {
  const letter = (label.match(/[\p{L}\p{N}]/u)?.[0] ?? '?').toUpperCase();
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: `action-icon avatar hue-${hash % 8}`, 'aria-hidden': 'true' }, letter);
}

// Launching: the button is busy until the replies come; they show in #action-result.

function clearResult() {
  const result = $('#action-result', panelEl);
  delete result.dataset.success;
  result.replaceChildren();
}

async function launch(item, button, name) {
  if (!current || button.disabled) return;
  const hadFocus = document.activeElement === button;
  const result = $('#action-result', panelEl);
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  delete result.dataset.success;
  result.replaceChildren(h('p', { class: 'result-title' }, `Launching ${name}…`));
  let replies;
  try {
    const body = await api('/api/actions/launch', { method: 'POST', body: { item, selection: selectionOf(current) } });
    replies = Array.isArray(body?.replies) ? body.replies : [];
  } catch (err) {
    if (err instanceof Unauthorized) return;
    replies = [{ success: false, message: `Could not launch: ${err.message}` }];
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (hadFocus && button.isConnected && (document.activeElement === document.body || !document.activeElement)) button.focus();
  }
  showReplies(name, replies);
}

function showReplies(name, replies) {
  const result = $('#action-result', panelEl);
  const success = replies.some((reply) => reply?.success === true);
  result.dataset.success = String(success);
  const lines = replies.length
    ? replies.map((reply) => {
      const ok = reply?.success === true;
      const message = typeof reply?.message === 'string' && reply.message ? reply.message : ok ? 'Done.' : 'Failed.';
      return h('li', { dataset: { success: String(ok) } }, h('span', { class: 'sr-only' }, ok ? 'Succeeded: ' : 'Failed: '), message);
    })
    : [h('li', { dataset: { success: 'false' } }, 'No plugin answered')];
  result.replaceChildren(h('p', { class: 'result-title' }, name), h('ul', { class: 'replies' }, lines));
}
