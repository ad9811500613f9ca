/**
 * The Logs tab: a live tail of the host's log file. An EventSource on /api/logs, opened the
 * first time the tab is shown and kept open afterwards (reopened after a small delay when it
 * drops), delivers `lines` events: JSON arrays of {level, text}, the first one the file's
 * last lines. The page keeps the last MAX_LINES, filters them by level and text, and follows
 * the bottom while the user is there.
 *
 * Rendering is incremental: new lines are appended (and lines past MAX_LINES removed) when
 * the filter did not change; only a new filter rebuilds the list, reusing each line's <li>.
 *
 * Test hooks: select#log-level (values "", ERROR, WARN, INFO, DEBUG), input#log-search,
 * #log-follow (checkbox), #log-count ("N of M lines"), #log-status, ol#log-lines >
 * li[data-level] (the line's level, or for a continuation line the level of the line it
 * continues, which also carries data-continued).
 */

import { $, api, h, onSessionEnd, session, setText, Unauthorized } from './dom.js';

export const logsTab = { id: 'logs', label: 'Logs', mount, render() {}, show };

const MAX_LINES = 5000;
const RETRY_MS = [1000, 2000, 5000, 10_000];

/** Lower is more severe; a line of no known level counts as INFO. */
const RANK = { ERROR: 1, WARN: 2, INFO: 3, DEBUG: 4, TRACE: 5 };
const rankOf = (level) => RANK[level] ?? RANK.INFO;

const LEVELS = [
  ['', 'All'],
  ['ERROR', 'Error'],
  ['WARN', 'Warning and above'],
  ['INFO', 'Info and above'],
  ['DEBUG', 'Debug and above'],
];

let panelEl = null;
let listEl = null;
/** Every kept line: { level, continued, text, lower, head, el, shown }. */
let lines = [];
let shownCount = 0;
const filter = { rank: Infinity, search: '' };

const stream = { source: null, timer: 0, attempt: 0, first: false };

function mount(panel) {
  panelEl = panel;
  listEl = h('ol', { id: 'log-lines', class: 'log-lines', tabindex: '0', 'aria-label': 'Log lines', onscroll: onScroll });
  panel.append(
    h('h2', { class: 'sr-only' }, 'Logs'),
    h('div', { class: 'toolbar log-toolbar' },
      h('div', { class: 'filters' },
        h('div', { class: 'field inline' },
          h('label', { for: 'log-level', class: 'field-label' }, 'Level'),
          h('select', { id: 'log-level', class: 'input', onchange: onFilter },
            LEVELS.map(([value, label]) => h('option', { value }, label)))),
        h('div', { class: 'field inline grow' },
          h('label', { for: 'log-search', class: 'field-label' }, 'Search'),
          h('input', {
            id: 'log-search', type: 'search', class: 'input', autocomplete: 'off', spellcheck: 'false',
            placeholder: 'Text or plugin name', 'aria-controls': 'log-lines',
            oninput: onFilter, // at once: filtering the kept lines takes a few milliseconds
          })),
        h('label', { class: 'check' },
          h('input', { id: 'log-follow', type: 'checkbox', checked: true, onchange: onFollow }), 'Follow')),
      h('p', { class: 'log-meta' },
        h('span', { id: 'log-status', class: 'muted' }, 'Not started'),
        h('span', { id: 'log-count', class: 'muted' }, '0 of 0 lines'))),
    h('p', { id: 'log-empty', class: 'muted log-empty' }, 'Waiting for the log…'),
    listEl,
  );
  onSessionEnd(stop);
}

function show() {
  if (!stream.source && !stream.timer) connect();
  if (following()) scrollToEnd(); // the list had no size while hidden
}

// ---------------------------------------------------------------------------
// Stream

function connect() {
  if (session.ended) return;
  stream.timer = 0;
  const es = new EventSource('/api/logs');
  stream.source = es;
  stream.first = true; // the first event after (re)connecting repeats the file's last lines
  setText($('#log-status', panelEl), 'Connecting…');
  es.addEventListener('open', () => setText($('#log-status', panelEl), 'Live'));
  es.addEventListener('lines', (event) => {
    let batch;
    try {
      batch = JSON.parse(event.data);
    } catch (err) {
      console.warn('ignoring a malformed lines event', err);
      return;
    }
    if (!Array.isArray(batch)) return;
    stream.attempt = 0;
    if (stream.first) {
      stream.first = false;
      batch = afterKnown(batch);
    }
    receive(batch);
  });
  es.addEventListener('error', () => failed(es));
}

function stop() {
  clearTimeout(stream.timer);
  stream.source?.close();
  stream.source = null;
}

async function failed(es) {
  if (es !== stream.source || session.ended) return;
  es.close(); // reopened here, after a delay, rather than by the browser at once
  stream.source = null;
  setText($('#log-status', panelEl), 'Lost the log stream; reconnecting…');
  try {
    await api('/api/status'); // a 401 ends the page; anything else: try again
  } catch (err) {
    if (err instanceof Unauthorized) return;
  }
  const delay = RETRY_MS[Math.min(stream.attempt++, RETRY_MS.length - 1)];
  stream.timer = setTimeout(connect, delay);
}

/** A reconnection's backlog without the lines already shown (those up to our last one). */
function afterKnown(batch) {
  const last = lines.at(-1)?.text;
  if (last == null) return batch;
  const index = batch.findLastIndex((line) => line?.text === last);
  return index >= 0 ? batch.slice(index + 1) : batch;
}

// ---------------------------------------------------------------------------
// Lines

function receive(batch) {
  if (!batch.length) return updateMeta();
  const follow = following();
  const fragment = document.createDocumentFragment();
  let previous = lines.at(-1) ?? null;
  for (const raw of batch) {
    const text = typeof raw?.text === 'string' ? raw.text : String(raw?.text ?? '');
    const own = typeof raw?.level === 'string' ? raw.level : '';
    const continued = own === '' && previous !== null;
    const line = {
      level: continued ? previous.level : own,
      continued,
      text,
      lower: text.toLowerCase(),
      head: null,
      el: null,
      shown: false,
    };
    line.head = continued ? previous.head : line;
    lines.push(line);
    previous = line;
    if (matches(line)) fragment.append(display(line));
  }
  listEl.append(fragment);
  trim();
  updateMeta();
  if (follow) scrollToEnd();
}

/** Drop the oldest lines past MAX_LINES, and their elements. */
function trim() {
  const extra = lines.length - MAX_LINES;
  if (extra <= 0) return;
  for (const line of lines.splice(0, extra)) {
    if (line.shown) shownCount -= 1;
    line.el?.remove();
  }
}

function matches(line) {
  if (rankOf(line.level) > filter.rank) return false;
  if (!filter.search) return true;
  return line.lower.includes(filter.search) || (line.continued && line.head.lower.includes(filter.search));
}

/** The line's element, made once; counts it as shown. */
function display(line) {
  line.shown = true;
  shownCount += 1;
  line.el ??= h('li', { dataset: { level: line.level, continued: line.continued ? 'true' : null } }, line.text);
  return line.el;
}

function onFilter() {
  const level = $('#log-level', panelEl).value;
  filter.rank = level ? rankOf(level) : Infinity;
  filter.search = $('#log-search', panelEl).value.trim().toLowerCase();
  const follow = following();
  shownCount = 0;
  const fragment = document.createDocumentFragment();
  for (const line of lines) {
    line.shown = false;
    if (matches(line)) fragment.append(display(line));
  }
  listEl.replaceChildren(fragment);
  updateMeta();
  if (follow) scrollToEnd();
}

function updateMeta() {
  setText($('#log-count', panelEl), `${shownCount} of ${lines.length} lines`);
  const empty = $('#log-empty', panelEl);
  setText(empty, lines.length ? 'No line matches the filter.' : 'The log is empty so far.');
  empty.hidden = shownCount > 0;
}

// ---------------------------------------------------------------------------
// Following the bottom

const following = () => $('#log-follow', panelEl).checked;

/** Scroll to the last line, once per frame however many batches or keystrokes came. */
let scrollQueued = false;
function scrollToEnd() {
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    listEl.scrollTop = listEl.scrollHeight;
  });
}

function atBottom() {
  return listEl.scrollHeight - listEl.scrollTop - listEl.clientHeight < 4;
}

/** Scrolling up stops following; scrolling back to the bottom resumes it. */
function onScroll() {
  if (!listEl.clientHeight) return; // hidden
  const box = $('#log-follow', panelEl);
  const bottom = atBottom();
  if (box.checked !== bottom) box.checked = bottom;
}

function onFollow() {
  if (following()) scrollToEnd();
}
