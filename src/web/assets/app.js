// SPDX-License-Identifier: MIT
// app.js - the `weft ui` page: one view per location hash, drawn from the
// JSON API, kept live by the server's event stream (/api/events) without
// reloading.  No framework and no build step: the file is served as it is.
'use strict';

const STATUSES = ['SUBMITTED', 'BLOCKED', 'PENDING', 'RUNNING', 'CANCELED', 'FAILED', 'COMPLETED', 'SKIPPED', 'ABANDONED'];
const FINAL = new Set(['CANCELED', 'FAILED', 'COMPLETED', 'SKIPPED', 'ABANDONED']);
const CSRF = document.querySelector('meta[name=csrf]').content;
const main = document.getElementById('main');
let view = null; // {onEvent(ev), onReset()}

function esc(s) {
  return String(s == null ? '' : s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}
async function api(path) {
  const r = await fetch(path, {credentials: 'same-origin'});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}
async function post(path, data) {
  const r = await fetch(path, {method: 'POST', credentials: 'same-origin',
    headers: {'X-Weft-CSRF': CSRF, 'Content-Type': 'application/json'}, body: JSON.stringify(data || {})});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
  return body;
}
function badge(s) { return `<span class="badge ${esc(s)}" data-status>${esc(s)}</span>`; }
function time(us) { return us ? new Date(us / 1000).toLocaleTimeString() : ''; }
function dur(a, b) {
  if (!a || !b || b < a) return '';
  const ms = (b - a) / 1000;
  return ms < 1000 ? ms.toFixed(0) + ' ms' : ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : (ms / 60000).toFixed(1) + ' min';
}
function short(id) { return esc(String(id || '').replace(/^(JOB_|SUBMISSION_|SCENARIO_)/, '').slice(-44)); }
function link(kind, id, text) { return `<a href="#/${kind}/${encodeURIComponent(id)}">${esc(text || id)}</a>`; }
function countsBar(counts) {
  const total = STATUSES.reduce((t, s) => t + (counts[s] || 0), 0) || 1;
  return '<div class="bar" title="' + esc(STATUSES.filter(s => counts[s]).map(s => s + ' ' + counts[s]).join(', ')) + '">' +
    STATUSES.filter(s => counts[s]).map(s => `<span style="width:${100 * counts[s] / total}%;background:var(--${s})"></span>`).join('') + '</div>';
}
function throttle(fn, ms) {
  let t = null;
  return () => { if (!t) t = setTimeout(() => { t = null; fn(); }, ms); };
}
function fail(e) { main.innerHTML = `<p class="error">${esc(e.message || e)}</p>`; }
function pager(next, base) {
  return next ? `<div class="pager"><a href="${base}${base.includes('?') ? '&' : '?'}after=${esc(next)}">Older →</a></div>` : '';
}
function query() {
  const h = location.hash, i = h.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : h.slice(i + 1));
}

// ---- overview ----
function chart(buckets, bucketUs) {
  const w = 600, h = 90, n = buckets.length, max = Math.max(1, ...buckets), bw = w / n;
  const bars = buckets.map((v, i) => `<rect x="${(i * bw).toFixed(1)}" y="${(h - 14 - (h - 24) * v / max).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${((h - 24) * v / max).toFixed(1)}" fill="#54aeff"><title>${v} jobs</title></rect>`).join('');
  const rate = (buckets[n - 1] / (bucketUs / 1e6)).toFixed(2);
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="jobs finished per second">` +
    `${bars}<line x1="0" y1="${h - 14}" x2="${w}" y2="${h - 14}" stroke="#d0d7de"/>` +
    `<text x="0" y="${h - 2}" font-size="10" fill="#656d76">-${(n * bucketUs / 60e6).toFixed(0)} min</text>` +
    `<text x="${w - 2}" y="${h - 2}" font-size="10" fill="#656d76" text-anchor="end">now · ${rate}/s · max ${(max / (bucketUs / 1e6)).toFixed(2)}/s</text></svg>`;
}
function clusterView(c) {
  if (!c) return '';
  const q = c.queue_load;
  const rows = c.workers.map(w => `<tr><td>${esc(w.name)}</td><td>${esc(w.state)}</td><td>${w.busy} / ${w.concurrency}</td>` +
    `<td>${w.jobs_run}</td><td>${time(w.last_heartbeat_us)}</td></tr>`).join('');
  return `<h2>Cluster: queue ${esc(c.queue)}</h2>` +
    `<p id="queue-load">${q ? `${q.ready} ready, ${q.consumers} consumers` : 'queue not declared yet'}` +
    ` · as of ${c.updated_us ? time(c.updated_us) : 'the first listen (a few seconds)'}</p>` +
    (c.error ? `<p class="error">${esc(c.error)}</p>` : '') +
    (rows ? '<table id="workers"><thead><tr><th>Worker</th><th>State</th><th>Busy slots</th><th>Jobs run</th><th>Last heartbeat</th></tr></thead>' +
      `<tbody>${rows}</tbody></table>` : '<p class="muted">No worker heard.</p>');
}
async function overview() {
  const draw = async () => {
    const o = await api('/api/overview');
    main.innerHTML = '<h1>Overview</h1>' + (o.store ? '' : '<p class="muted">No store yet: nothing was submitted.</p>') +
      '<div class="cards">' + STATUSES.map(s => `<div class="card" id="count-${s}"><div class="n">${o.jobs[s]}</div><div class="l">${badge(s)}</div></div>`).join('') + '</div>' +
      '<h2>Jobs finished per second, last 10 minutes</h2>' + chart(o.finished_per_bucket, o.bucket_us) +
      clusterView(o.cluster) +
      '<h2>Running submissions</h2>' + (o.running_submissions.length ? subTable(o.running_submissions) : '<p class="muted">None.</p>');
    return o;
  };
  const o = await draw();
  const again = throttle(() => draw().catch(fail), 1000);
  const me = {onEvent: again, onReset: again};
  // The cluster figures change without job events: redraw at the server's
  // refresh period while this view is shown.
  if (o.cluster) { const t = setInterval(() => { if (view !== me) clearInterval(t); else again(); }, 5000); }
  return me;
}

// ---- submissions ----
function subTable(items) {
  return '<table><tr><th>Submission</th><th>Scenario</th><th>Status</th><th>Created</th><th>Duration</th><th>Jobs</th></tr>' +
    items.map(s => `<tr data-sub="${esc(s.id)}"><td class="mono">${link('submission', s.id, short(s.id))}</td><td>${esc(s.entity_config_id)}</td>` +
      `<td>${badge(s.status)}</td><td>${time(s.created_us)}</td><td>${dur(s.created_us, s.finished_us || 0)}</td><td>${countsBar(s.counts || {})}</td></tr>`).join('') + '</table>';
}
async function submissions() {
  const q = query(), after = q.get('after');
  const draw = async () => {
    const r = await api('/api/submissions?limit=50' + (after ? '&after=' + encodeURIComponent(after) : ''));
    main.innerHTML = '<h1>Submissions</h1>' + (r.items.length ? subTable(r.items) : '<p class="muted">None yet.</p>') + pager(r.next, '#/submissions');
  };
  await draw();
  const again = throttle(() => draw().catch(fail), 1000);
  return {onEvent: again, onReset: again};
}

// ---- one submission: graph, Gantt, jobs ----
function gantt(jobs) {
  const run = jobs.filter(j => j.started_us);
  if (!run.length) return '<p class="muted">No job has started yet.</p>';
  const t0 = Math.min(...run.map(j => j.started_us)), now = Date.now() * 1000;
  const t1 = Math.max(...run.map(j => j.finished_us || now)), span = Math.max(1, t1 - t0);
  const rows = run.slice(0, 200), w = 900, lw = 180, rh = 18;
  return `<svg class="gantt" viewBox="0 0 ${w} ${rows.length * rh + 20}" width="${w}" height="${rows.length * rh + 20}">` + rows.map((j, i) => {
    const x = lw + (w - lw - 10) * (j.started_us - t0) / span, x2 = lw + (w - lw - 10) * ((j.finished_us || now) - t0) / span;
    return `<text x="0" y="${i * rh + 13}">${esc(j.task)}</text><rect x="${x.toFixed(1)}" y="${i * rh + 3}" width="${Math.max(2, x2 - x).toFixed(1)}" height="${rh - 6}" fill="var(--${j.status})"><title>${esc(j.id)} ${esc(j.status)} ${dur(j.started_us, j.finished_us || now)}</title></rect>`;
  }).join('') + `<text x="${lw}" y="${rows.length * rh + 16}" fill="#656d76">${time(t0)}</text><text x="${w - 10}" y="${rows.length * rh + 16}" text-anchor="end" fill="#656d76">${dur(t0, t1)}</text></svg>`;
}
async function submission(id) {
  let s = await api('/api/submissions/' + encodeURIComponent(id));
  const svg = await fetch('/api/submissions/' + encodeURIComponent(id) + '/graph.svg').then(r => r.ok ? r.text() : '');
  const jobsTable = () => '<table id="jobs"><tr><th>Job</th><th>Task</th><th>Status</th><th>Duration</th><th>Worker</th></tr>' +
    s.jobs.map(j => `<tr id="row-${esc(j.id)}"><td class="mono">${link('job', j.id, short(j.id))}</td><td>${esc(j.task)}</td><td>${badge(j.status)}</td><td>${dur(j.started_us, j.finished_us)}</td><td>${esc(j.worker)}</td></tr>`).join('') + '</table>';
  const head = () => `<h1>Submission <span class="mono">${esc(s.id)}</span></h1>` +
    `<p>${badge(s.status)} scenario ${esc(s.entity_config_id)} · <span class="mono">${esc(s.entity_id)}</span> · created ${time(s.created_us)} · ${s.njobs} jobs ` +
    (FINAL.has(s.status) ? '' : `<button class="danger" data-action="cancel-sub" data-id="${esc(s.id)}">Cancel submission</button>`) + `</p>${countsBar(s.counts)}`;
  main.innerHTML = `<div id="head">${head()}</div><h2>Graph</h2><div class="graph" id="graph">${svg}</div>` +
    `<h2>Timeline</h2><div id="gantt">${gantt(s.jobs)}</div><h2>Jobs</h2><div id="jobs-wrap">${jobsTable()}</div>`;
  const refresh = throttle(async () => {
    s = await api('/api/submissions/' + encodeURIComponent(id));
    document.getElementById('head').innerHTML = head();
    document.getElementById('gantt').innerHTML = gantt(s.jobs);
    document.getElementById('jobs-wrap').innerHTML = jobsTable();
  }, 500);
  return {
    onEvent(ev) {
      if (ev.submission !== id) return;
      const g = document.getElementById(ev.job);
      if (g) {
        g.setAttribute('class', 'node job st-' + ev.status);
        const t = g.querySelector('title');
        if (t) t.textContent = ev.task + ' ' + ev.status;
      }
      const row = document.getElementById('row-' + ev.job);
      if (row) row.querySelector('[data-status]').outerHTML = badge(ev.status);
      refresh();
    },
    onReset() { submission(id).then(v => { view = v; }).catch(fail); }
  };
}

// ---- jobs ----
function jobTable(items) {
  return '<table><tr><th>Job</th><th>Task</th><th>Status</th><th>Submitted</th><th>Duration</th><th>Submission</th></tr>' +
    items.map(j => `<tr><td class="mono">${link('job', j.id, short(j.id))}</td><td>${esc(j.task)}</td><td>${badge(j.status)}</td>` +
      `<td>${time(j.submitted_us)}</td><td>${dur(j.started_us, j.finished_us)}</td><td class="mono">${link('submission', j.submission, short(j.submission))}</td></tr>`).join('') + '</table>';
}
async function jobs() {
  const q = query(), status = q.get('status') || '', after = q.get('after');
  const r = await api('/api/jobs?limit=100' + (status ? '&status=' + status : '') + (after ? '&after=' + encodeURIComponent(after) : ''));
  main.innerHTML = '<h1>Jobs</h1><p>Status: <select id="status-filter"><option value="">any</option>' +
    STATUSES.map(s => `<option ${s === status ? 'selected' : ''}>${s}</option>`).join('') + '</select></p>' +
    jobTable(r.items) + pager(r.next, '#/jobs' + (status ? '?status=' + status : ''));
  document.getElementById('status-filter').addEventListener('change', e => { location.hash = '#/jobs' + (e.target.value ? '?status=' + e.target.value : ''); });
  return null;
}
async function job(id) {
  const j = await api('/api/jobs/' + encodeURIComponent(id));
  main.innerHTML = `<h1>Job <span class="mono">${esc(j.id)}</span></h1>` +
    `<p>${badge(j.status)} ` + (j.cancelable ? `<button class="danger" data-action="cancel-job" data-id="${esc(j.id)}">Cancel</button>` : '') + '</p>' +
    '<table class="kv">' + [['Task', esc(j.task)], ['Submission', link('submission', j.submission, j.submission)], ['Attempt', j.attempt],
      ['Worker', esc(j.worker || '—')], ['Exit code', j.exit_code], ['Signal', j.signal || '—'], ['Error', `<span class="error">${esc(j.error || '')}</span>`]]
      .map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('') + '</table>' +
    '<h2>Status history</h2><table><tr><th>Status</th><th>At</th></tr>' +
    j.history.map(h => `<tr><td>${badge(h.status)}</td><td>${new Date(h.at_us / 1000).toISOString()}</td></tr>`).join('') + '</table>' +
    '<h2>Log tail</h2>' + (j.log_tail ? `<pre>${esc(j.log_tail)}</pre>` : '<p class="muted">No output.</p>');
  const again = throttle(() => job(id).then(v => { view = v; }).catch(fail), 300);
  return {onEvent(ev) { if (ev.job === id) again(); }, onReset: again};
}

// ---- scenarios ----
async function scenarios() {
  const r = await api('/api/scenarios?limit=100');
  main.innerHTML = '<h1>Scenarios</h1><h2>Configured</h2><table><tr><th>Scenario</th><th>Tasks</th><th></th></tr>' +
    r.configured.map(s => `<tr><td>${esc(s.id)}</td><td>${s.tasks.map(esc).join(', ')}</td>` +
      `<td><button class="primary" data-action="run" data-id="${esc(s.id)}">Run</button> <a href="/api/scenarios/${encodeURIComponent(s.id)}/graph.svg" target="_blank">graph</a></td></tr>` +
      Object.entries(s.sequences || {}).map(([name, tasks]) => `<tr><td>&nbsp;&nbsp;sequence ${esc(name)}</td><td>${tasks.map(esc).join(', ')}</td>` +
        `<td><button data-action="run" data-id="${esc(s.id)}" data-seq="${esc(name)}">Run</button></td></tr>`).join('')).join('') + '</table>' +
    (r.cycles.length ? '<h2>Cycles</h2><table><tr><th>Cycle</th><th>Frequency</th><th>From</th><th>To</th><th>Scenarios</th></tr>' +
      r.cycles.map(c => `<tr><td>${esc(c.name)}</td><td>${esc(c.frequency)}</td><td>${esc(c.start_date.slice(0, 10))}</td><td>${esc(c.end_date.slice(0, 10))}</td>` +
        `<td class="mono">${c.scenarios.map(s => esc(s.id) + (s.primary ? ' (primary)' : '')).join('<br>')}</td></tr>`).join('') + '</table>' : '') +
    '<h2>Instances</h2>' + (r.items.length ? '<table><tr><th>Instance</th><th>Scenario</th><th>Created</th><th>Cycle</th></tr>' +
      r.items.map(s => `<tr><td class="mono">${esc(s.id)}</td><td>${esc(s.config_id)}</td><td>${time(s.created_us)}</td>` +
        `<td class="mono">${esc(s.cycle_id || '—')}${s.is_primary ? ' (primary)' : ''}</td></tr>`).join('') + '</table>' : '<p class="muted">None yet.</p>');
  return null;
}

// ---- data nodes ----
// The editor of an edit: a job (linked), or the name given to `weft data write --editor`.
function editor(id) {
  if (!id) return '—';
  return id.startsWith('JOB_') ? link('job', id, id) : esc(id);
}
async function datanodes() {
  const after = query().get('after');
  const r = await api('/api/datanodes?limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
  main.innerHTML = '<h1>Data nodes</h1><table><tr><th>Data node</th><th>Config</th><th>Scope</th><th>Last edit</th></tr>' +
    r.items.map(d => `<tr><td class="mono">${link('datanode', d.id, short(d.id))}</td><td>${esc(d.config_id)}</td><td>${['SCENARIO', 'CYCLE', 'GLOBAL'][d.scope] || ''}</td><td>${time(d.last_edit_us)}</td></tr>`).join('') +
    '</table>' + pager(r.next, '#/datanodes');
  return null;
}
function tree(v) {
  if (v === null || typeof v !== 'object') return `<span>${esc(JSON.stringify(v))}</span>`;
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  return `<details open><summary>${Array.isArray(v) ? `[${v.length}]` : `{${entries.length}}`}</summary><ul>` +
    entries.map(([k, x]) => `<li><b>${esc(k)}</b>: ${tree(x)}</li>`).join('') + '</ul></details>';
}
function preview(p) {
  if (p.kind === 'table') return `<p class="muted">${p.rows.length} rows shown${p.truncated ? ' (more not shown)' : ''}</p><table class="preview"><tr>` +
    p.columns.map(c => `<th>${esc(c)}</th>`).join('') + '</tr>' + p.rows.map(r => '<tr>' + r.map(c => `<td>${esc(c)}</td>`).join('') + '</tr>').join('') + '</table>';
  if (p.kind === 'json') return `<div class="tree">${tree(p.value)}</div>`;
  if (p.kind === 'text') return `<pre>${esc(p.text)}</pre>` + (p.truncated ? '<p class="muted">(truncated)</p>' : '');
  if (p.kind === 'bytes') return `<p>${p.bytes} bytes</p>`;
  return '<p class="muted">No content yet.</p>';
}
async function datanode(id) {
  const d = await api('/api/datanodes/' + encodeURIComponent(id));
  main.innerHTML = `<h1>Data node <span class="mono">${esc(d.id)}</span></h1><table class="kv">` +
    [['Config', esc(d.config_id)], ['Type', esc(d.storage_type)], ['Scope', esc(d.scope)], ['Path', `<span class="mono">${esc(d.path || '—')}</span>`],
      ['Last edit', d.last_edit_us ? new Date(d.last_edit_us / 1000).toISOString() : 'never'], ['Editor', editor(d.last_edit_job)]]
      .map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('') + '</table>' +
    '<h2>Preview</h2>' + preview(d.preview) +
    '<h2>Edits</h2><table><tr><th>At</th><th>Editor</th></tr>' + d.edits.map(e => `<tr><td>${new Date(e.at_us / 1000).toISOString()}</td><td class="mono">${editor(e.job_id)}</td></tr>`).join('') + '</table>';
  return null;
}

// ---- actions (no inline handlers: the page's CSP forbids them) ----
document.addEventListener('click', async e => {
  const b = e.target.closest('[data-action]');
  const g = e.target.closest('.graph g.node');
  if (g && !b) {
    if (g.classList.contains('job')) location.hash = '#/job/' + encodeURIComponent(g.id);
    else if (g.classList.contains('dn')) openDataNode(g.id.replace(/^dn:/, ''));
    return;
  }
  if (!b) return;
  b.disabled = true;
  try {
    const id = b.dataset.id;
    if (b.dataset.action === 'run') {
      const seq = b.dataset.seq ? '?sequence=' + encodeURIComponent(b.dataset.seq) : '';
      const r = await post('/api/scenarios/' + encodeURIComponent(id) + '/submit' + seq);
      location.hash = '#/submission/' + encodeURIComponent(r.submission);
    } else if (b.dataset.action === 'cancel-job') {
      await post('/api/jobs/' + encodeURIComponent(id) + '/cancel');
    } else if (b.dataset.action === 'cancel-sub') {
      await post('/api/submissions/' + encodeURIComponent(id) + '/cancel');
    }
  } catch (err) {
    alert(err.message);
    b.disabled = false;
  }
});
async function openDataNode(configId) {
  const r = await api('/api/datanodes?limit=500');
  const d = r.items.find(x => x.config_id === configId);
  if (d) location.hash = '#/datanode/' + encodeURIComponent(d.id);
}

// ---- routing and the event stream ----
async function route() {
  const h = location.hash.replace(/\?.*$/, '').split('/').map(decodeURIComponent);
  const views = {'': overview, submissions, submission, jobs, job, scenarios, datanodes, datanode};
  const fn = views[h[1] || ''] || overview;
  view = null;
  try { view = await fn(h[2]); } catch (e) { fail(e); }
}
function connect() {
  const live = document.getElementById('live');
  const es = new EventSource('/api/events');
  es.onopen = () => live.classList.remove('off');
  es.onerror = () => live.classList.add('off');
  es.addEventListener('status', e => { const ev = JSON.parse(e.data); if (view && view.onEvent) view.onEvent(ev); });
  es.addEventListener('reset', () => { if (view && view.onReset) view.onReset(); });
}
window.addEventListener('hashchange', route);
route();
connect();
