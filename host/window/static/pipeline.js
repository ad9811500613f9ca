/**
 * The Pipeline tab: ftrack's pipeline framework from the window. It is added only when a
 * pipeline host answers (the resident host's own `python` host, or an application's linked
 * to the same server): `startPipeline(shell)` asks GET /api/pipeline/hosts, and again every
 * so often while none answers.
 *
 *  - Hosts: a select of the hosts found (#pipeline-host), "Find hosts" asks again.
 *  - Context: the tab's entity browser (browser.js, prefix `pipeline-`); the definitions
 *    listed are those the host offers in the picked context (their `discoverable`), from
 *    GET /api/pipeline/hosts?context=ID, and the run sets the context plugins' context_id.
 *  - Definitions (#pipeline-definitions, buttons [data-definition]): picking one shows its
 *    steps, stages and plugins (#pipeline-editor) with each plugin's options as fields
 *    (input[data-option="<group>.<step>.<stage>.<plugin index>.<option>"]): text as it is,
 *    other values as JSON.
 *  - Run (#pipeline-run): POST /api/pipeline/runs, then its events on an EventSource: each
 *    plugin as it ends in #pipeline-progress (li[data-plugin][data-status]), then the
 *    outcome in #pipeline-result (data-outcome="done" with the finalizers' results, or
 *    "failed" with the plugin's name and message).
 *  - Log (#pipeline-log): the host's notification log, GET /api/pipeline/logs, refreshed
 *    when the tab shows and after each run.
 */

import { $, api, h, safeUrl, setText, warnUnlessEnded, session } from './dom.js';
import { createBrowser, pathText, recentOnce } from './browser.js';
import { pickedContext } from './actions.js';

export const pipelineTab = { id: 'pipeline', label: 'Pipeline', mount, render() {}, show };

/** How often hosts are looked for while none answered. */
const RETRY_MS = 20_000;

let panelEl = null;
let browser = null;
let hosts = [];
let chosen = { host: '', definition: null };
/** The definition the editor shows: it is built again only for another one (edits stay). */
let edited = null;
let shownOnce = false;
let source = null;
let hostsSeq = 0;

/** Look for hosts; add the tab when one answers. */
export function startPipeline(shell) {
  const look = async () => {
    if (session.ended) return;
    try {
      const body = await api('/api/pipeline/hosts');
      if (Array.isArray(body.hosts) && body.hosts.length) {
        hosts = body.hosts;
        shell.addTab(pipelineTab);
        return;
      }
    } catch (err) {
      warnUnlessEnded('GET /api/pipeline/hosts')(err);
    }
    setTimeout(look, RETRY_MS);
  };
  look();
}

// ---------------------------------------------------------------------------
// Tab

function mount(panel) {
  panelEl = panel;
  browser = createBrowser({ prefix: 'pipeline-', label: 'Pipeline context browser', onChange: onContextChange });
  panel.append(
    h('h2', { class: 'sr-only' }, 'Pipeline'),
    h('div', { class: 'actions-layout' },
      browser.element,
      h('div', { class: 'pipeline-main' },
        h('div', { class: 'field-pair' },
          h('div', { class: 'field' },
            h('label', { for: 'pipeline-host', class: 'field-label' }, 'Pipeline host'),
            h('select', { id: 'pipeline-host', class: 'input', onchange: onHostChange })),
          h('div', { class: 'field' },
            h('span', { class: 'field-label' }, 'Context'),
            h('p', { id: 'pipeline-context', class: 'linked' }))),
        h('div', { class: 'button-row' },
          h('button', { id: 'pipeline-refresh', type: 'button', class: 'btn', onclick: () => loadHosts() }, 'Find hosts')),
        h('p', { id: 'pipeline-error', class: 'alert inline', role: 'alert' }),
        h('h3', { id: 'pipeline-definitions-heading', class: 'section-title' }, 'Definitions'),
        h('ul', { id: 'pipeline-definitions', class: 'context-list', 'aria-labelledby': 'pipeline-definitions-heading' }),
        h('form', { id: 'pipeline-editor', class: 'pipeline-editor', onsubmit: (event) => event.preventDefault() }),
        h('div', { class: 'publish-bar' },
          h('button', { id: 'pipeline-run', type: 'button', class: 'btn btn-primary', disabled: true, onclick: startRun }, 'Run'),
          h('p', { id: 'pipeline-status', role: 'status' })),
        h('ol', { id: 'pipeline-progress', class: 'pipeline-progress' }),
        h('div', { id: 'pipeline-result', class: 'publish-result', role: 'status', tabindex: '-1' }),
        h('h3', { id: 'pipeline-log-heading', class: 'section-title' }, 'Log'),
        h('table', { id: 'pipeline-log', class: 'table', 'aria-labelledby': 'pipeline-log-heading' },
          h('thead', {}, h('tr', {}, ...['Time', 'Plugin', 'Status', 'Seconds', 'Message'].map((t) => h('th', {}, t)))),
          h('tbody')))),
  );
  renderHosts();
}

function show() {
  if (!shownOnce) {
    shownOnce = true;
    const picked = pickedContext();
    if (picked) browser.pick(picked, { remember: false, level: true });
    else browser.showListing({ kind: 'projects' });
    recentOnce().catch(() => {});
  }
  loadLog();
}

// ---------------------------------------------------------------------------
// Hosts and definitions

/** A new context: its definitions, and the context plugins' context_id shown as it. */
function onContextChange(context) {
  for (const input of panelEl.querySelectorAll("input[data-option^='contexts.'][data-option$='.context_id']")) {
    input.value = context.id;
  }
  loadHosts();
}

async function loadHosts() {
  const seq = ++hostsSeq;
  const context = browser?.current;
  setText($('#pipeline-context', panelEl), context ? pathText(context) : 'None: pick one in the browser.');
  setText($('#pipeline-error', panelEl), '');
  try {
    const query = context ? `?context=${encodeURIComponent(context.id)}` : '';
    const body = await api(`/api/pipeline/hosts${query}`);
    if (seq !== hostsSeq) return;
    hosts = Array.isArray(body.hosts) ? body.hosts : [];
  } catch (err) {
    if (seq !== hostsSeq) return;
    setText($('#pipeline-error', panelEl), `The hosts could not be listed: ${err.message}`);
    hosts = [];
  }
  renderHosts();
}

const hostOf = (id) => hosts.find((host) => host.host_id === id);

function definitionsOf(host) {
  const all = [];
  for (const kind of ['publisher', 'loader', 'opener']) {
    for (const definition of host?.definition?.[kind] ?? []) all.push(definition);
  }
  return all;
}

function renderHosts() {
  if (!panelEl) return;
  const select = $('#pipeline-host', panelEl);
  if (!hostOf(chosen.host)) chosen.host = hosts[0]?.host_id ?? '';
  select.replaceChildren(...hosts.map((host) => h('option', { value: host.host_id, selected: host.host_id === chosen.host },
    `${host.host_name} (${host.host_id})`)));
  renderDefinitions();
}

function onHostChange() {
  chosen.host = $('#pipeline-host', panelEl).value;
  renderDefinitions();
}

function renderDefinitions() {
  const list = $('#pipeline-definitions', panelEl);
  const definitions = definitionsOf(hostOf(chosen.host));
  if (chosen.definition && !definitions.some((d) => d.name === chosen.definition.name)) chosen.definition = null;
  list.replaceChildren(...(definitions.length
    ? definitions.map((definition) => h('li', {},
      h('button', {
        type: 'button', class: 'context', dataset: { definition: definition.name },
        'aria-pressed': String(chosen.definition?.name === definition.name),
        onclick: () => pickDefinition(definition),
      }, `${definition.name} `, h('span', { class: 'muted' }, definition.type))))
    : [h('li', { class: 'muted' }, 'This host offers no definition here.')]));
  renderEditor();
}

function pickDefinition(definition) {
  chosen.definition = structuredClone(definition);
  renderDefinitions();
}

// ---------------------------------------------------------------------------
// The definition's options

const GROUPS = ['contexts', 'components', 'finalizers'];

/** An option's value as a field shows it: text as it is, other values as JSON. */
const shownValue = (value) => (typeof value === 'string' ? value : JSON.stringify(value ?? null));

function renderEditor() {
  const editor = $('#pipeline-editor', panelEl);
  const definition = chosen.definition;
  $('#pipeline-run', panelEl).disabled = !definition || source != null;
  if (definition === edited) return;
  edited = definition;
  if (!definition) {
    editor.replaceChildren();
    return;
  }
  const sections = [];
  for (const group of GROUPS) {
    for (const step of definition[group] ?? []) {
      const stages = [];
      for (const stage of step.stages ?? []) {
        (stage.plugins ?? []).forEach((plugin, index) => {
          const fields = Object.entries(plugin.options ?? {}).map(([option, given]) => {
            let value = given;
            const path = `${group}.${step.name}.${stage.name}.${index}.${option}`;
            // The run sets the context plugins' context_id to the picked context.
            if (group === 'contexts' && option === 'context_id' && browser?.current) value = browser.current.id;
            const id = `pipeline-option-${sections.length}-${stages.length}-${option}`;
            return h('div', { class: 'field' },
              h('label', { for: id, class: 'field-label' }, option),
              h('input', {
                id, class: 'input', autocomplete: 'off', spellcheck: 'false',
                value: shownValue(value), dataset: { option: path, json: String(typeof value !== 'string') },
              }));
          });
          stages.push(h('fieldset', { class: 'pipeline-plugin' },
            h('legend', {}, `${stage.name}: ${plugin.plugin}`),
            ...(fields.length ? fields : [h('p', { class: 'muted' }, 'No options.')])));
        });
      }
      sections.push(h('section', { class: 'pipeline-step', dataset: { group, step: step.name } },
        h('h4', {}, `${group} · ${step.name}`), ...stages));
    }
  }
  editor.replaceChildren(...sections);
}

/** The chosen definition with the fields' values; or why a field is not valid JSON. */
function editedDefinition() {
  const definition = structuredClone(chosen.definition);
  for (const input of panelEl.querySelectorAll('input[data-option]')) {
    const [group, stepName, stageName, index, ...rest] = input.dataset.option.split('.');
    const option = rest.join('.');
    const step = (definition[group] ?? []).find((s) => s.name === stepName);
    const stage = (step?.stages ?? []).find((s) => s.name === stageName);
    const plugin = stage?.plugins?.[Number(index)];
    if (!plugin) continue;
    let value = input.value;
    if (input.dataset.json === 'true') {
      try {
        value = JSON.parse(input.value);
      } catch {
        throw new Error(`${option} of ${plugin.plugin} is not JSON: ${input.value}`);
      }
    }
    plugin.options = { ...(plugin.options ?? {}), [option]: value };
  }
  return definition;
}

// ---------------------------------------------------------------------------
// Running

async function startRun() {
  const button = $('#pipeline-run', panelEl);
  const result = $('#pipeline-result', panelEl);
  result.replaceChildren();
  delete result.dataset.outcome;
  $('#pipeline-progress', panelEl).replaceChildren();
  let definition;
  try {
    definition = editedDefinition();
  } catch (err) {
    return showOutcome('failed', err.message);
  }
  button.disabled = true;
  setText($('#pipeline-status', panelEl), `Running ${definition.name}…`);
  try {
    const body = { host_id: chosen.host, definition, context_id: browser.current?.id ?? null };
    const { job } = await api('/api/pipeline/runs', { method: 'POST', body });
    follow(job);
  } catch (err) {
    button.disabled = false;
    showOutcome('failed', `The run could not start: ${err.message}`);
  }
}

function follow(job) {
  source?.close();
  source = new EventSource(`/api/pipeline/runs/${encodeURIComponent(job)}`);
  const read = (event) => {
    try {
      return JSON.parse(event.data);
    } catch {
      return {};
    }
  };
  source.addEventListener('progress', (event) => renderProgress(read(event).notifications ?? []));
  source.addEventListener('done', (event) => finish('done', read(event)));
  source.addEventListener('failed', (event) => finish('failed', read(event)));
  source.addEventListener('error', () => {
    if (source?.readyState === EventSource.CLOSED) finish('failed', { error: 'lost contact with the host' });
  });
}

function renderProgress(notifications) {
  // Each plugin's end, with its step (from the progress notification that preceded it).
  let step = '';
  const ended = [];
  for (const n of notifications) {
    if (n.topic === 'ftrack.pipeline.client.progress.notification') step = `${n.step_type} ${n.step_name}`;
    else if (n.status !== 'RUNNING_STATUS') ended.push({ ...n, step });
  }
  $('#pipeline-progress', panelEl).replaceChildren(...ended.map((n) => h('li', {
    dataset: { plugin: n.plugin_name ?? '', status: n.status ?? '', step: n.step },
    class: n.status === 'SUCCESS_STATUS' ? 'ok' : 'failed',
  }, `${n.status === 'SUCCESS_STATUS' ? '✓' : '✗'} ${n.step} › ${n.plugin_name} (${n.plugin_type}, ${Number(n.execution_time ?? 0).toFixed(2)} s)`,
  n.status === 'SUCCESS_STATUS' ? '' : `: ${n.message ?? ''}`)));
}

function finish(outcome, body) {
  source?.close();
  source = null;
  $('#pipeline-run', panelEl).disabled = !chosen.definition;
  setText($('#pipeline-status', panelEl), '');
  if (outcome === 'done') {
    const lines = finalizerResults(body.results).map((result) => (result.asset_version_id
      ? `Published version ${result.version ?? ''} (${(result.component_names ?? []).join(', ')})`
      : JSON.stringify(result)));
    showOutcome('done', lines.length ? lines.join('\n') : 'Every stage succeeded.', finalizerResults(body.results)[0]?.url);
  } else {
    const who = body.plugin_name ? `${body.plugin_name}: ${body.plugin_message ?? body.message}` : (body.error ?? body.message ?? 'the run failed');
    showOutcome('failed', who);
  }
  loadLog();
}

function finalizerResults(results) {
  const found = [];
  for (const step of Array.isArray(results) ? results : []) {
    if (step.type !== 'finalizer') continue;
    for (const stage of step.result ?? []) {
      if (stage.type !== 'finalizer') continue;
      for (const plugin of stage.result ?? []) found.push(plugin.result ?? {});
    }
  }
  return found;
}

function showOutcome(outcome, text, link) {
  const url = safeUrl(link);
  const result = $('#pipeline-result', panelEl);
  result.dataset.outcome = outcome;
  result.className = `publish-result ${outcome === 'done' ? 'ok' : 'alert'}`;
  result.replaceChildren(h('p', {}, text), ...(url ? [h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, 'Open in ftrack')] : []));
  result.focus();
}

// ---------------------------------------------------------------------------
// Log

async function loadLog() {
  if (!panelEl) return;
  try {
    const host = chosen.host ? `?host=${encodeURIComponent(chosen.host)}&limit=100` : '?limit=100';
    const body = await api(`/api/pipeline/logs${host}`);
    const rows = (body.entries ?? []).filter((e) => e.status !== 'RUNNING_STATUS').reverse().map((e) => h('tr', {
      dataset: { plugin: e.plugin_name, status: e.status },
    },
    h('td', {}, new Date(e.time * 1000).toLocaleTimeString()),
    h('td', {}, e.plugin_name),
    h('td', {}, e.status),
    h('td', {}, Number(e.duration ?? 0).toFixed(3)),
    h('td', {}, e.message ?? '')));
    $('#pipeline-log tbody', panelEl).replaceChildren(...rows);
  } catch (err) {
    warnUnlessEnded('GET /api/pipeline/logs')(err);
  }
}
