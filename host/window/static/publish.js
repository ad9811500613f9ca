/**
 * The Publish tab: files to ftrack as a new asset version, as Connect's publisher does.
 *
 *  - Files: dropped (folders too: their files) or chosen, one list by name (a file of the
 *    same name replaces the earlier one). After every change the server groups the names
 *    into components (POST /api/publish/group: sequences collapse into one); each component
 *    gets a name to edit (unique, non-empty) and can be removed.
 *  - The linked entity is picked in the tab's own entity browser (browser.js), starting from
 *    the context picked in Actions; its assets (GET /api/publish/assets) fill the asset
 *    choice, with "New asset" (a name and a type, GET /api/publish/asset-types).
 *  - Publishing: a batch (POST /api/publish/batches), each file uploaded into it with
 *    progress (XMLHttpRequest, a few at a time), the publish asked for (POST
 *    .../publish → {job}), and its progress and outcome followed on an EventSource. Any
 *    failure is said in place with the form as it was, to fix and retry; a success clears
 *    the files and the thumbnail.
 *
 * Test hooks: #publish-drop (region), input#publish-files, ul#publish-components >
 * li.component[data-identifier] with input.component-name and button.remove-component,
 * #publish-context, #publish-context-* (the browser: search, list, recent… as in Actions),
 * select#publish-asset, input#publish-asset-name, select#publish-asset-type,
 * textarea#publish-description, input#publish-thumbnail, img#publish-thumbnail-preview,
 * #publish-thumbnail-clear, select#publish-web-playable, button#publish-start,
 * progress#publish-progress, #publish-progress-text, #publish-result[data-outcome]
 * ("published", "failed", "invalid") with a#publish-version-link.
 */

import { safeUrl, $, api, endSession, failureDetail, h, onSessionEnd, session, setText, Unauthorized, acceptDrops } from './dom.js';
import { createBrowser, pathText, recentOnce } from './browser.js';
import { pickedContext } from './actions.js';

export const publishTab = { id: 'publish', label: 'Publish', mount, render() {}, show, hash, unmount };

/** Uploads at once: many small frames go faster side by side. */
const PARALLEL_UPLOADS = 3;
/** How often the progress text (a live region) may change, so readers are not flooded. */
const PROGRESS_TEXT_MS = 1000;

let panelEl = null;
let browser = null;
let started = false;

/** The files to publish, by name, in the order they came. */
const files = new Map();
/** The components of `files` as the server grouped them: {identifier, name, kind, members, files}. */
let components = [];
/** Names the user typed, by component identifier (and by default name, for a regrouped one). */
const edited = new Map();
/** The web-playable component's identifier, or ''. */
let webPlayable = '';
let thumbnail = null;
let thumbnailUrl = '';
/** The linked context's assets, and the types a new asset may have (null until known). */
let assets = [];
/** The id of the context whose assets `assets` are. */
let assetsOf = '';
let assetTypes = null;
/** Whether a publish is running. */
let busy = false;
/** What a running publish holds open, to close when the session ends. */
const running = { requests: new Set(), source: null };

const seq = { group: 0, assets: 0 };
let grouping = false;
let ids = 0;

// ---------------------------------------------------------------------------
// Tab

function mount(panel) {
  panelEl = panel;
  browser = createBrowser({ prefix: 'publish-', label: 'Linked entity browser', onChange: onContextChange });
  const input = h('input', {
    id: 'publish-files', type: 'file', multiple: true, class: 'file-input',
    onchange: () => {
      addFiles(Array.from(input.files ?? []));
      input.value = ''; // choosing the same files again is a change again
    },
  });
  panel.append(
    h('h2', { class: 'sr-only' }, 'Publish'),
    h('div', { class: 'actions-layout publish-layout' },
      browser.element,
      h('div', { class: 'publish-main' },
        h('fieldset', { id: 'publish-form', class: 'publish-form' },
          h('legend', { class: 'sr-only' }, 'What to publish'),
          h('section', { class: 'publish-section', 'aria-labelledby': 'publish-files-heading' },
            h('div', { class: 'section-head' },
              h('h3', { id: 'publish-files-heading', class: 'section-title' }, 'Files'),
              h('p', { id: 'publish-files-summary', class: 'muted', role: 'status' })),
            dropZone(input),
            h('p', { id: 'publish-group-error', class: 'alert inline', role: 'alert' }),
            h('ul', { id: 'publish-components', class: 'components', 'aria-labelledby': 'publish-files-heading' })),
          h('div', { class: 'publish-fields' },
            h('div', { class: 'field wide' },
              h('span', { id: 'publish-context-label', class: 'field-label' }, 'Linked entity'),
              h('p', { id: 'publish-context', class: 'linked', 'aria-describedby': 'publish-linked-error' }),
              h('p', { id: 'publish-linked-error', class: 'field-error' })),
            h('div', { class: 'field' },
              h('label', { for: 'publish-asset', class: 'field-label' }, 'Asset'),
              h('select', { id: 'publish-asset', class: 'input', 'aria-describedby': 'publish-asset-note', onchange: renderAssetChoice },
                h('option', { value: '' }, 'New asset')),
              h('p', { id: 'publish-asset-note', class: 'field-note' })),
            h('div', { id: 'publish-new-asset', class: 'field-pair' },
              h('div', { class: 'field' },
                h('label', { for: 'publish-asset-name', class: 'field-label' }, 'Asset name'),
                h('input', {
                  id: 'publish-asset-name', class: 'input', autocomplete: 'off', spellcheck: 'false',
                  'aria-describedby': 'publish-asset-name-error', oninput: () => markField('publish-asset-name', ''),
                  onchange: () => markField('publish-asset-name', ''),
                }),
                h('p', { id: 'publish-asset-name-error', class: 'field-error' })),
              h('div', { class: 'field' },
                h('label', { for: 'publish-asset-type', class: 'field-label' }, 'Asset type'),
                h('select', { id: 'publish-asset-type', class: 'input', 'aria-describedby': 'publish-asset-type-note' },
                  h('option', { value: 'upload' }, 'Upload')),
                h('p', { id: 'publish-asset-type-note', class: 'field-note' }))),
            h('div', { class: 'field wide' },
              h('label', { for: 'publish-description', class: 'field-label' }, 'Description'),
              h('textarea', { id: 'publish-description', class: 'input', rows: 3 })),
            h('div', { class: 'field thumbnail-field' },
              h('label', { for: 'publish-thumbnail', class: 'field-label' }, 'Thumbnail'),
              h('div', { class: 'thumbnail-row' },
                h('img', { id: 'publish-thumbnail-preview', class: 'thumbnail-preview', alt: 'Thumbnail preview', hidden: true }),
                h('div', { class: 'thumbnail-controls' },
                  h('input', {
                    id: 'publish-thumbnail', type: 'file', accept: 'image/*', class: 'file-input',
                    'aria-describedby': 'publish-thumbnail-error', onchange: onThumbnailChange,
                  }),
                  h('button', {
                    id: 'publish-thumbnail-clear', type: 'button', class: 'btn btn-small', hidden: true,
                    onclick: () => {
                      clearThumbnail();
                      $('#publish-thumbnail', panelEl).focus();
                    },
                  }, 'Remove thumbnail'))),
              h('p', { id: 'publish-thumbnail-error', class: 'field-error' })),
            h('div', { class: 'field' },
              h('label', { for: 'publish-web-playable', class: 'field-label' }, 'Web-playable component'),
              h('select', { id: 'publish-web-playable', class: 'input', onchange: onWebPlayableChange },
                h('option', { value: '' }, 'None')),
              h('p', { class: 'field-note' }, 'Encoded so that it plays in ftrack’s web player.')))),
        h('div', { class: 'publish-bar' },
          h('button', { id: 'publish-start', type: 'button', class: 'btn btn-primary', disabled: true, onclick: startPublish }, 'Publish'),
          h('div', { id: 'publish-progress-box', class: 'publish-progress', hidden: true },
            h('progress', { id: 'publish-progress', max: 1, value: 0, 'aria-labelledby': 'publish-progress-text' }),
            h('p', { id: 'publish-progress-text', role: 'status' }),
            h('p', { id: 'publish-progress-current', class: 'muted' }))),
        h('div', { id: 'publish-result', class: 'publish-result', role: 'status', tabindex: '-1' }))),
  );
  renderFiles();
  renderContext();
  onSessionEnd(stopRunning);
}

function show(panel, arg) {
  const first = !started;
  started = true;
  if (first) loadAssetTypes();
  if (arg && arg !== browser.current?.id) {
    browser.open(arg).then((opened) => {
      if (opened === false && !panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
    });
  } else if (!browser.current && !browser.pendingId) {
    // Start from the context picked in Actions, until one is picked here.
    const picked = pickedContext();
    if (picked) browser.pick(picked, { remember: false, level: true });
    else if (!browser.listed) browser.showListing({ kind: 'projects' });
  }
  recentOnce().catch(() => {}); // the browsers say why it failed
}

function hash() {
  const id = browser?.pendingId || browser?.current?.id;
  return id ? `publish/${encodeURIComponent(id)}` : 'publish';
}

function unmount() {
  stopRunning();
}

function stopRunning() {
  for (const xhr of running.requests) xhr.abort();
  running.requests.clear();
  running.source?.close();
  running.source = null;
}

// ---------------------------------------------------------------------------
// Files

function dropZone(input) {
  const zone = h('div', { id: 'publish-drop', class: 'drop-zone', role: 'region', 'aria-labelledby': 'publish-drop-title' },
    h('p', { id: 'publish-drop-title', class: 'drop-title' }, 'Drop files here, or choose them'),
    h('p', { class: 'field inline' },
      h('label', { for: 'publish-files', class: 'field-label' }, 'Choose files'),
      input),
    h('p', { class: 'muted' }, 'Frames of a sequence become one component; a dropped folder adds its files.'));

  acceptDrops(zone, {
    isBusy: () => busy,
    onDrop: async (transfer) => {
      if (busy) return;
      addFiles(await droppedFiles(transfer));
    },
  });
  return zone;
}

/** The files dropped, those inside dropped folders included (hidden ones left out). */
async function droppedFiles(transfer) {
  // Entries must be taken during the event; reading them may come later.
  const entries = Array.from(transfer.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  if (!entries.length || entries.some((entry) => entry === null)) return Array.from(transfer.files ?? []);
  const found = [];
  const walk = async (entry) => {
    if (entry.name.startsWith('.')) return;
    if (entry.isFile) {
      found.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  try {
    for (const entry of entries) await walk(entry);
  } catch (err) {
    found.problem = `Could not read all that was dropped: ${err?.message ?? err}.`;
  }
  return found;
}

function addFiles(list) {
  if (busy || (!list.length && !list.problem)) return;
  // Hidden files (.DS_Store and the like) are never published.
  const { problem } = list;
  const hidden = list.filter((file) => file.name.startsWith('.'));
  list = list.filter((file) => !file.name.startsWith('.'));
  leftOut = [problem, hidden.length ? `Left out ${hidden.map((file) => file.name).join(', ')}: hidden files are not published.` : '']
    .filter(Boolean).join(' ');
  if (!list.length) return showGroupError(groupProblem);
  for (const file of list) {
    files.delete(file.name); // replaced: it goes to the end, as the newest
    files.set(file.name, file);
  }
  clearOutcome();
  regroup();
}

function removeComponent(component) {
  if (busy) return;
  const list = $('#publish-components', panelEl);
  const rows = [...list.querySelectorAll('li.component')];
  const index = rows.findIndex((row) => row.dataset.identifier === component.identifier);
  for (const name of component.files) files.delete(name);
  components = components.filter((c) => c !== component);
  edited.delete(component.identifier);
  if (webPlayable === component.identifier) webPlayable = '';
  // Focus goes to the next component's Remove (or the one before), else to the file input.
  const next = rows[index + 1] ?? rows[index - 1];
  renderFiles();
  const target = next && list.querySelector(`li.component[data-identifier="${CSS.escape(next.dataset.identifier)}"] .remove-component`);
  (target ?? $('#publish-files', panelEl)).focus();
  clearOutcome();
  regroup();
}

/** Ask the server to group the file names into components (sequences into one). */
async function regroup() {
  const n = ++seq.group;
  const names = [...files.keys()];
  if (!names.length) {
    grouping = false;
    components = [];
    showGroupError('');
    renderFiles();
    return;
  }
  grouping = true;
  renderBusy();
  let grouped;
  let problem = '';
  try {
    const body = await api('/api/publish/group', { method: 'POST', body: { names } });
    grouped = Array.isArray(body?.components) ? body.components : [];
  } catch (err) {
    if (err instanceof Unauthorized || n !== seq.group) return;
    problem = `Could not group the files into components (${err.message}); each file is shown on its own.`;
    grouped = names.map((name) => ({ identifier: name, name: name.replace(/\.[^.]*$/, '') || name, kind: 'file', members: 1, files: [name] }));
  }
  if (n !== seq.group) return;
  grouping = false;
  components = grouped
    .filter((c) => c && typeof c.identifier === 'string')
    .map((c) => ({
      identifier: c.identifier,
      name: String(c.name ?? c.identifier),
      kind: c.kind === 'sequence' ? 'sequence' : 'file',
      files: (Array.isArray(c.files) ? c.files : []).filter((name) => files.has(name)),
      members: Number.isFinite(c.members) ? c.members : Array.isArray(c.files) ? c.files.length : 1,
    }));
  // A name typed for a component that was regrouped (a frame added) stays with it.
  for (const c of components) {
    if (edited.has(c.identifier)) continue;
    const before = [...edited.entries()].find(([id]) => !components.some((other) => other.identifier === id) && defaultNames.get(id) === c.name);
    if (before) {
      edited.set(c.identifier, before[1]);
      edited.delete(before[0]);
    }
  }
  for (const c of components) defaultNames.set(c.identifier, c.name);
  if (webPlayable && !components.some((c) => c.identifier === webPlayable)) webPlayable = '';
  showGroupError(problem);
  renderFiles();
}

/** Each component's default name, by identifier, as the server last said. */
const defaultNames = new Map();

/** Why the files could not be grouped, and which ones were left out. */
let groupProblem = '';
let leftOut = '';

function showGroupError(problem) {
  groupProblem = problem;
  setText($('#publish-group-error', panelEl), [problem, leftOut].filter(Boolean).join(' '));
}

const nameOf = (component) => edited.get(component.identifier) ?? component.name;

const sizeOf = (component) => component.files.reduce((sum, name) => sum + (files.get(name)?.size ?? 0), 0);

/** Why each component's name will not do, by identifier. */
function nameProblems() {
  const problems = new Map();
  const counts = new Map();
  for (const c of components) {
    const name = nameOf(c).trim();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  for (const c of components) {
    const name = nameOf(c).trim();
    if (!name) problems.set(c.identifier, 'A component needs a name.');
    else if (counts.get(name) > 1) problems.set(c.identifier, `Another component is also named “${name}”; names must differ.`);
  }
  return problems;
}

function renderFiles() {
  const list = $('#publish-components', panelEl);
  const active = document.activeElement;
  const focusRow = list.contains(active) ? active.closest('li.component')?.dataset.identifier : null;
  const focusClass = focusRow != null ? [...active.classList].find((c) => c === 'component-name' || c === 'remove-component') : null;
  const selection = focusClass === 'component-name' ? [active.selectionStart, active.selectionEnd] : null;
  list.replaceChildren(...components.map(componentRow));
  if (focusRow != null && focusClass) {
    const again = list.querySelector(`li.component[data-identifier="${CSS.escape(focusRow)}"] .${focusClass}`);
    if (again) {
      again.focus();
      if (selection) again.setSelectionRange(...selection);
    }
  }
  renderNames();
  const count = files.size;
  const total = [...files.values()].reduce((sum, file) => sum + file.size, 0);
  setText($('#publish-files-summary', panelEl), count
    ? `${plural(components.length, 'component')}, ${plural(count, 'file')}, ${formatSize(total)}`
    : 'No files yet');
  renderBusy();
}

function componentRow(component) {
  const n = ++ids;
  const input = h('input', {
    id: `publish-component-${n}`, class: 'input component-name', value: nameOf(component),
    autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `publish-component-${n}-details publish-component-${n}-error`,
  });
  const typed = () => {
    edited.set(component.identifier, input.value);
    renderNames();
  };
  input.addEventListener('input', typed);
  input.addEventListener('change', typed);
  const members = component.kind === 'sequence' ? `, ${plural(component.members, 'file')}` : '';
  const size = sizeOf(component);
  return h('li', { class: 'component', dataset: { identifier: component.identifier, kind: component.kind } },
    h('div', { class: 'component-row' },
      h('label', { for: input.id, class: 'sr-only' }, `Name of component ${component.identifier}`),
      input,
      h('span', { id: `publish-component-${n}-details`, class: 'component-details' },
        h('span', { class: 'kind-badge', dataset: { kind: component.kind } }, component.kind),
        h('span', { class: 'component-size' }, `${members.replace(/^, /, '')}${members ? ' · ' : ''}${formatSize(size)}`),
        h('span', { class: 'component-identifier', title: component.identifier }, component.identifier)),
      h('button', {
        type: 'button', class: 'btn btn-small remove-component', 'aria-label': `Remove ${component.identifier}`,
        onclick: () => removeComponent(component),
      }, 'Remove')),
    h('p', { id: `publish-component-${n}-error`, class: 'field-error' }));
}

/** The names' problems in place, and the web-playable choice's options. */
function renderNames() {
  const problems = nameProblems();
  for (const row of $('#publish-components', panelEl).querySelectorAll('li.component')) {
    const problem = problems.get(row.dataset.identifier) ?? '';
    const input = row.querySelector('.component-name');
    if (problem) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    setText(row.querySelector('.field-error'), problem);
  }
  const select = $('#publish-web-playable', panelEl);
  select.replaceChildren(
    h('option', { value: '' }, 'None'),
    ...components.map((c) => h('option', { value: nameOf(c), dataset: { identifier: c.identifier } }, nameOf(c) || c.identifier)),
  );
  const index = components.findIndex((c) => c.identifier === webPlayable);
  select.selectedIndex = index + 1;
}

function onWebPlayableChange(event) {
  const option = event.target.selectedOptions[0];
  webPlayable = option?.dataset.identifier ?? '';
}

// ---------------------------------------------------------------------------
// Thumbnail

function onThumbnailChange(event) {
  const file = event.target.files?.[0] ?? null;
  if (!file) return clearThumbnail();
  setThumbnail(file);
}

function setThumbnail(file) {
  if (thumbnailUrl) URL.revokeObjectURL(thumbnailUrl);
  thumbnail = file;
  thumbnailUrl = file ? URL.createObjectURL(file) : '';
  const preview = $('#publish-thumbnail-preview', panelEl);
  if (thumbnailUrl) preview.src = thumbnailUrl;
  else preview.removeAttribute('src');
  preview.hidden = !thumbnailUrl;
  preview.alt = file ? `Thumbnail preview: ${file.name}` : 'Thumbnail preview';
  $('#publish-thumbnail-clear', panelEl).hidden = !file;
  markField('publish-thumbnail', '');
}

function clearThumbnail() {
  $('#publish-thumbnail', panelEl).value = '';
  setThumbnail(null);
}

// ---------------------------------------------------------------------------
// The linked entity and its assets

function onContextChange(context, { picked }) {
  renderContext();
  if (!picked) return;
  markField('publish-context', '', 'publish-linked-error');
  if (!panelEl.hidden) history.replaceState(null, '', `#${hash()}`);
  loadAssets(context);
}

function renderContext() {
  const context = browser.current;
  const box = $('#publish-context', panelEl);
  const type = context?.type && context.type !== 'TypedContext' ? context.type : '';
  box.replaceChildren(...(context
    ? [h('span', { class: 'linked-path' }, pathText(context)), type ? h('span', { class: 'type-badge' }, type) : null]
    : [h('span', { class: 'muted' }, 'None yet: pick a task, shot or other context in the browser.')]));
  box.dataset.contextId = context?.id ?? '';
}

/**
 * Where a publish to `context` puts its asset: a task's parent (the version names the
 * task), as Connect's publisher does; any other context itself.
 */
function assetOwner(context) {
  const link = Array.isArray(context.link) ? context.link : [];
  if (context.type === 'Task' && link.length > 1) return { id: link[link.length - 2].id, name: link[link.length - 2].name };
  return { id: context.id, name: context.name };
}

async function loadAssets(context) {
  const n = ++seq.assets;
  const select = $('#publish-asset', panelEl);
  const owner = assetOwner(context);
  if (assetsOf !== owner.id) {
    // Another context's assets must not be chosen meanwhile.
    assetsOf = owner.id;
    assets = [];
    renderAssets('');
  }
  select.setAttribute('aria-busy', 'true');
  setNote('publish-asset-note', `Looking for the assets of ${owner.name}…`);
  let listed;
  try {
    const body = await api(`/api/publish/assets?context=${encodeURIComponent(owner.id)}`);
    listed = Array.isArray(body?.assets) ? body.assets.filter((a) => a && a.id != null) : [];
  } catch (err) {
    if (err instanceof Unauthorized || n !== seq.assets) return;
    select.removeAttribute('aria-busy');
    assets = [];
    renderAssets();
    setNote('publish-asset-note', `Could not list the assets of ${owner.name}: ${err.message}`, true);
    return;
  }
  if (n !== seq.assets) return;
  select.removeAttribute('aria-busy');
  assets = listed;
  renderAssets();
  setNote('publish-asset-note', assets.length ? `The assets of ${owner.name}.` : `${owner.name} has no assets yet.`);
}

/** The asset choice's options; the chosen asset stays chosen if it is still there. */
function renderAssets(choose = $('#publish-asset', panelEl).value) {
  const select = $('#publish-asset', panelEl);
  select.replaceChildren(
    h('option', { value: '' }, 'New asset'),
    ...assets.map((asset) => h('option', { value: String(asset.id) }, `${asset.name}${asset.type ? ` (${asset.type})` : ''}`)),
  );
  select.value = assets.some((asset) => String(asset.id) === choose) ? choose : '';
  renderAssetChoice();
}

function renderAssetChoice() {
  const isNew = $('#publish-asset', panelEl).value === '';
  $('#publish-new-asset', panelEl).hidden = !isNew;
}

async function loadAssetTypes() {
  const select = $('#publish-asset-type', panelEl);
  let types;
  try {
    const body = await api('/api/publish/asset-types');
    types = Array.isArray(body?.types) ? body.types.filter((t) => t && typeof t.short === 'string' && t.short) : [];
  } catch (err) {
    if (err instanceof Unauthorized) return;
    setNote('publish-asset-type-note', `Could not list asset types (${err.message}); new assets are uploads.`, true);
    started = false; // asked again when the tab is shown again
    return;
  }
  if (!types.length) return;
  const chosen = select.value || 'upload';
  assetTypes = types;
  select.replaceChildren(...types.map((t) => h('option', { value: t.short }, t.name && t.name !== t.short ? `${t.name} (${t.short})` : t.short)));
  select.value = types.some((t) => t.short === chosen) ? chosen : types.some((t) => t.short === 'upload') ? 'upload' : types[0].short;
  setNote('publish-asset-type-note', '');
}

function setNote(id, text, problem = false) {
  const note = $(`#${id}`, panelEl);
  setText(note, text);
  note.classList.toggle('problem', problem);
}

/** Say `problem` under field `id` (or clear it), in `#<errorId>`. */
function markField(id, problem, errorId = `${id}-error`) {
  const field = $(`#${id}`, panelEl);
  if (problem) field.setAttribute('aria-invalid', 'true');
  else field.removeAttribute('aria-invalid');
  setText($(`#${errorId}`, panelEl), problem);
}

// ---------------------------------------------------------------------------
// Publishing

function renderBusy() {
  const button = $('#publish-start', panelEl);
  button.disabled = busy || grouping || !files.size || !components.length;
  setText(button, busy ? 'Publishing…' : 'Publish');
  $('#publish-form', panelEl).disabled = busy;
  $('#publish-components', panelEl).toggleAttribute('aria-busy', grouping);
}

/** What would be published, or null after marking every field that will not do. */
function check() {
  const problems = [];
  const names = nameProblems();
  renderNames();
  if (names.size) problems.push(['.component-name[aria-invalid]', 'a component name']);
  const context = browser.current;
  markField('publish-context', context ? '' : 'Required: pick it in the browser.', 'publish-linked-error');
  if (!context) problems.push([null, 'the linked entity']);
  const assetId = $('#publish-asset', panelEl).value;
  const asset = assets.find((a) => String(a.id) === assetId) ?? null;
  const assetName = asset ? String(asset.name) : $('#publish-asset-name', panelEl).value.trim();
  const assetType = asset ? String(asset.type ?? '') : $('#publish-asset-type', panelEl).value;
  markField('publish-asset-name', asset || assetName ? '' : 'A new asset needs a name.');
  if (!assetName) problems.push(['#publish-asset-name', 'the asset name']);
  const clash = thumbnail && files.get(thumbnail.name);
  const sameFile = clash && clash.size === thumbnail.size && clash.lastModified === thumbnail.lastModified;
  markField('publish-thumbnail', clash && !sameFile ? `A file to publish is also named ${thumbnail.name}: rename one of them.` : '');
  if (clash && !sameFile) problems.push(['#publish-thumbnail', 'the thumbnail']);
  if (problems.length) {
    const what = problems.map(([, name]) => name);
    const listed = what.length > 1 ? `${what.slice(0, -1).join(', ')} and ${what.at(-1)}` : what[0];
    showOutcome('invalid', [h('p', { class: 'result-title' }, `Check ${listed} before publishing.`)]);
    const [selector] = problems[0];
    if (selector) $(selector, panelEl)?.focus();
    else browser.focus();
    return null;
  }
  const web = components.find((c) => c.identifier === webPlayable);
  return {
    context: { type: context.type, id: context.id },
    asset_name: assetName,
    asset_type: assetType || 'upload',
    description: $('#publish-description', panelEl).value,
    components: components.map((c) => ({ name: nameOf(c).trim(), identifier: c.identifier })),
    thumbnail: thumbnail ? thumbnail.name : null,
    web_playable: web ? nameOf(web).trim() : null,
  };
}

async function startPublish() {
  if (busy || grouping || !components.length) return;
  const body = check();
  if (!body) return;
  // Every file of every component, and the thumbnail (once, if a component has it too).
  const uploads = [];
  for (const c of components) for (const name of c.files) if (files.has(name)) uploads.push(files.get(name));
  if (thumbnail && !uploads.some((file) => file.name === thumbnail.name)) uploads.push(thumbnail);
  const wasNew = $('#publish-asset', panelEl).value === '';
  busy = true;
  renderBusy();
  clearOutcome();
  const progress = startProgress(uploads);
  let outcome;
  try {
    const { batch } = await api('/api/publish/batches', { method: 'POST' });
    await uploadAll(String(batch), uploads, progress);
    const { job } = await api(`/api/publish/batches/${encodeURIComponent(batch)}/publish`, { method: 'POST', body });
    progress.phase('publishing');
    outcome = await follow(String(job), progress);
  } catch (err) {
    if (err instanceof Unauthorized || session.ended) return;
    stopRunning();
    finish();
    showOutcome('failed', [h('p', { class: 'result-title' }, 'Could not publish'), h('p', { class: 'result-error' }, err.message)]);
    return;
  }
  finish();
  showPublished(outcome);
  files.clear();
  components = [];
  edited.clear();
  webPlayable = '';
  regroup();
  clearThumbnail();
  // The asset exists now: choose it for the next version.
  const context = browser.current;
  if (context && context.id === body.context.id) {
    await loadAssets(context);
    if (wasNew) {
      const made = assets.find((a) => a.name === (outcome?.asset ?? body.asset_name));
      if (made) renderAssets(String(made.id));
    }
  }

  function finish() {
    busy = false;
    progress.stop();
    renderBusy();
  }
}

/** Upload `uploads` into `batch`, a few at a time; rejects with the first failure. */
async function uploadAll(batch, uploads, progress) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (!failed && next < uploads.length) {
      const index = next++;
      progress.started(index);
      try {
        await upload(batch, uploads[index], (loaded) => progress.sent(index, loaded));
      } catch (err) {
        failed ??= err;
        stopRunning(); // the others too
        return;
      }
      progress.sent(index, uploads[index].size, true);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, uploads.length) }, worker));
  if (failed) throw failed;
}

/** POST one file into the batch; resolves with the server's {name, size}. */
function upload(batch, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    running.requests.add(xhr);
    const done = () => running.requests.delete(xhr);
    xhr.open('POST', `/api/publish/batches/${encodeURIComponent(batch)}/files?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    xhr.addEventListener('load', () => {
      done();
      if (xhr.status === 401) {
        endSession(session.signingOut ? 'signed-out' : 'unauthorized');
        reject(new Unauthorized());
      } else if (xhr.status >= 200 && xhr.status < 300) {
        let answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch {
          // The upload went; its answer is not needed.
        }
        resolve(answer);
      } else {
        const detail = failureDetail(xhr.responseText) || xhr.statusText;
        reject(new Error(`Could not upload ${file.name}: HTTP ${xhr.status}${detail ? `: ${detail}` : ''}`));
      }
    });
    xhr.addEventListener('error', () => {
      done();
      reject(new Error(`Could not upload ${file.name}: could not reach ftrack-connect`));
    });
    xhr.addEventListener('abort', () => {
      done();
      reject(new Error(`The upload of ${file.name} was stopped`));
    });
    xhr.send(file);
  });
}

/** Follow the publish job's events until it is done (resolves) or failed (rejects). */
function follow(job, progress) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`/api/publish/jobs/${encodeURIComponent(job)}`);
    running.source = source;
    let errors = 0;
    const close = () => {
      source.close();
      if (running.source === source) running.source = null;
    };
    const parse = (event) => {
      try {
        return JSON.parse(event.data);
      } catch {
        return null;
      }
    };
    source.addEventListener('open', () => {
      errors = 0;
    });
    source.addEventListener('progress', (event) => {
      const body = parse(event);
      if (body) progress.publishing(body);
    });
    source.addEventListener('done', (event) => {
      close();
      resolve(parse(event) ?? {});
    });
    source.addEventListener('failed', (event) => {
      close();
      const error = parse(event)?.error;
      reject(new Error(typeof error === 'string' && error ? error : 'The publish failed.'));
    });
    source.addEventListener('error', async () => {
      // While CONNECTING the browser tries again by itself, a few times.
      if (source.readyState !== EventSource.CLOSED && ++errors < 5) return;
      close();
      try {
        await api('/api/status'); // a 401 ends the page
      } catch (err) {
        if (err instanceof Unauthorized) return reject(err);
      }
      reject(new Error('Lost contact with the publish; it may still finish: look for the version in ftrack before publishing again.'));
    });
  });
}

// ---------------------------------------------------------------------------
// Progress and outcome

/** The progress bar and text of one publish, drawn at most once a frame. */
function startProgress(uploads) {
  const box = $('#publish-progress-box', panelEl);
  const bar = $('#publish-progress', panelEl);
  const text = $('#publish-progress-text', panelEl);
  const currentLine = $('#publish-progress-current', panelEl);
  const total = uploads.reduce((sum, file) => sum + file.size, 0);
  const loaded = new Array(uploads.length).fill(0);
  const state = { phase: 'uploading', files: uploads.length, done: 0, bytes: total, bytesDone: 0, current: '' };
  let frame = 0;
  let lastText = 0;
  let textTimer = 0;
  box.hidden = false;

  const sentence = () => {
    const verb = state.phase === 'uploading' ? 'Uploading' : 'Publishing';
    if (!state.files) return `${verb}…`;
    const at = Math.min(state.files, state.done + 1);
    return `${verb} ${at} of ${plural(state.files, 'file')}, ${formatOf(state.bytesDone, state.bytes)}`;
  };
  const writeText = () => {
    clearTimeout(textTimer);
    lastText = performance.now();
    setText(text, sentence());
  };
  const draw = () => {
    frame = 0;
    bar.max = Math.max(1, state.bytes);
    bar.value = Math.min(state.bytesDone, bar.max);
    setText(currentLine, state.current);
    // The text is a live region: changed at most once a second, the last change kept.
    const wait = PROGRESS_TEXT_MS - (performance.now() - lastText);
    if (wait <= 0) writeText();
    else if (!textTimer) textTimer = setTimeout(() => { textTimer = 0; writeText(); }, wait);
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  writeText();
  draw();

  return {
    started(index) {
      state.current = uploads[index].name;
      schedule();
    },
    sent(index, bytes, finished = false) {
      state.bytesDone += bytes - loaded[index];
      loaded[index] = bytes;
      if (finished) state.done += 1;
      schedule();
    },
    phase(phase) {
      Object.assign(state, { phase, files: 0, done: 0, bytes: 0, bytesDone: 0, current: '' });
      writeText();
      schedule();
    },
    publishing(body) {
      const num = (value, fallback) => (Number.isFinite(value) ? value : fallback);
      state.files = num(body.files, state.files);
      state.done = num(body.files_done, state.done);
      state.bytes = num(body.bytes, state.bytes);
      state.bytesDone = num(body.bytes_done, state.bytesDone);
      state.current = typeof body.current === 'string' ? body.current : '';
      schedule();
    },
    stop() {
      cancelAnimationFrame(frame);
      clearTimeout(textTimer);
      box.hidden = true;
      setText(text, '');
      setText(currentLine, '');
    },
  };
}

function showPublished(outcome) {
  const asset = String(outcome?.asset ?? 'the asset');
  const version = outcome?.version != null ? ` v${outcome.version}` : '';
  const parts = [h('p', { class: 'result-title' }, `Published ${asset}${version}`)];
  const url = safeUrl(outcome?.url);
  if (url) {
    parts.push(h('p', {}, h('a', {
      id: 'publish-version-link', href: url, target: '_blank', rel: 'noopener noreferrer',
    }, 'Open the version in ftrack')));
  }
  const published = Array.isArray(outcome?.components) ? outcome.components : [];
  if (published.length) {
    parts.push(h('ul', { class: 'published-components' }, published.map((c) => {
      // "sequence" or "file" (or ftrack's SequenceComponent, FileComponent).
      const kind = /sequence/i.test(String(c?.kind ?? '')) ? 'sequence' : 'file';
      const members = kind === 'sequence' && Number.isFinite(c?.members) ? `, ${plural(c.members, 'file')}` : '';
      const size = Number.isFinite(c?.size) ? `, ${formatSize(c.size)}` : '';
      return h('li', {}, h('span', { class: 'component-published-name' }, String(c?.name ?? '')), ` (${kind}${members}${size})`);
    })));
  }
  if (outcome?.location) parts.push(h('p', { class: 'muted' }, `Stored in ${outcome.location}`));
  const warnings = Array.isArray(outcome?.warnings) ? outcome.warnings.filter((w) => w != null && w !== '') : [];
  if (warnings.length) {
    parts.push(
      h('p', { class: 'label' }, warnings.length === 1 ? 'Warning' : `Warnings (${warnings.length})`),
      h('ul', { class: 'warnings' }, warnings.map((w) => h('li', {}, typeof w === 'string' ? w : JSON.stringify(w)))),
    );
  }
  showOutcome('published', parts);
}


/** Say the outcome in #publish-result; focus goes there if it was lost meanwhile. */
function showOutcome(outcome, parts) {
  const box = $('#publish-result', panelEl);
  box.dataset.outcome = outcome;
  box.replaceChildren(...parts);
  const lost = !document.activeElement || document.activeElement === document.body;
  if (outcome !== 'invalid' && lost && !panelEl.hidden) box.focus();
}

function clearOutcome() {
  const box = $('#publish-result', panelEl);
  delete box.dataset.outcome;
  box.replaceChildren();
}

// ---------------------------------------------------------------------------
// Numbers

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

const UNITS = [['GB', 1e9], ['MB', 1e6], ['KB', 1e3]];

function formatSize(bytes) {
  const [unit, size] = UNITS.find(([, size]) => bytes >= size) ?? ['B', 1];
  return unit === 'B' ? `${bytes} B` : `${(bytes / size).toFixed(1)} ${unit}`;
}

/** "1.2 of 4.0 MB", in the total's unit. */
function formatOf(done, total) {
  const [unit, size] = UNITS.find(([, size]) => total >= size) ?? ['B', 1];
  if (unit === 'B') return `${done} of ${total} B`;
  return `${(done / size).toFixed(1)} of ${(total / size).toFixed(1)} ${unit}`;
}
