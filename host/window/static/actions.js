/**
 * The Actions tab: the entity browser on the left (browser.js: search, my tasks, projects,
 * the picked context's path and its children, recent contexts), and on the right the
 * actions the plugins offer for the picked context, launched with one click.
 *
 *  - Picking a context (in the browser, the URL #actions/<id>, or at start the most recent
 *    one) makes it current, and discovers its actions (POST /api/actions/discover), with a
 *    sequence number so that a slow answer never overwrites a newer one.
 *  - The first fetches start as this module loads, before the shell's own, when the URL
 *    routes here: the first paint of Actions with a selected task is what users wait for.
 *  - `pickedContext()` is the context picked here, for the Publish tab to start from.
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
import { contextPath, createBrowser, loadRecent, pathText } from './browser.js';

export const actionsTab = { id: 'actions', label: 'Actions', mount, render() {}, show, hash };

/** The context picked in the Actions tab, or null. */
export const pickedContext = () => current;

/** The picked context ({id, name, type, link}), or null. */
let current = null;
let started = false;
let panelEl = null;
/** The entity browser (browser.js). */
let browser = null;

// Sequence numbers: an answer applies only if nothing newer was asked since.
const seq = { discover: 0 };

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
  browser = createBrowser({ label: 'Contexts', onChange });
  panel.append(
    h('h2', { class: 'sr-only' }, 'Actions'),
    h('div', { class: 'actions-layout' },
      browser.element,
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
}

function show(panel, arg) {
  if (!started) {
    started = true;
    begin(arg);
  } else if (arg && arg !== current?.id) {
    openContext(arg, api(contextPath(arg)));
  }
}

/** The URL hash of this tab: the picked context's, so a reload or a link comes back to it. */
function hash() {
  const id = browser?.pendingId || current?.id;
  return id ? `actions/${encodeURIComponent(id)}` : 'actions';
}

/** First show: the linked context (#actions/<id>), or else the most recent one. */
function begin(arg) {
  const asked = early && early.arg === arg ? early : prefetch(arg);
  early = null;
  loadRecent(asked.recent).then(
    (contexts) => {
      if (!arg && !current) {
        if (contexts[0]) browser.pick(contexts[0], { remember: false, level: true });
        else browser.showListing({ kind: 'projects' });
      }
    },
    (err) => {
      if (err instanceof Unauthorized) return;
      if (!arg && !current) browser.showListing({ kind: 'projects' });
    },
  );
  if (asked.context) openContext(arg, asked.context);
}

/** Pick the context `id`, which `answer` (of GET /api/contexts/{id}) holds; else the projects. */
function openContext(id, answer) {
  browser.open(id, answer).then((opened) => {
    // Not opened: the URL says where the window is instead.
    if (opened === false && !panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
  });
}

/** The browser picked `context` (`picked`), or learnt its type (not `picked`). */
function onChange(context, { picked }) {
  current = context;
  if (picked) discover(); // first: it is what the user waits for
  renderCurrent();
  if (!picked) return;
  clearResult();
  if (!panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
}

/** ftrack's web page sends "show" for projects and "task" for every other TypedContext. */
const selectionOf = (context) => [{ entityType: context.type === 'Project' ? 'show' : 'task', entityId: context.id }];

function renderCurrent() {
  const heading = $('#current-context', panelEl);
  const type = $('#current-type', panelEl);
  setText(heading, current ? pathText(current) : 'No context picked');
  const shownType = current?.type === 'TypedContext' ? '' : current?.type ?? '';
  setText(type, shownType);
  type.hidden = !shownType;
  $('#refresh-actions', panelEl).disabled = !current;
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
