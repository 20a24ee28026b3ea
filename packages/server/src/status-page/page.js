// A plain browser script (no build step), checked by eslint and by the browser test in test/e2e.
/*
 * Meridian's status page: reads /debug/* every 2 s and redraws with DOM calls only. Node ids,
 * hostnames, pod names and error texts come from outside (proxies and manifests choose them),
 * so they only ever become text nodes or attribute values, never markup.
 */
'use strict';

const POLL_MS = 2000;
/** Rows drawn per table: a page of thousands of rows every 2 s would freeze the browser. */
const MAX_ROWS = 200;
const SYNC_ORDER = ['NACKED', 'STALE', 'WAITING', 'SYNCED'];

const state = {
  data: undefined,
  fetchedAt: 0,
  error: '',
  filters: { cluster: '', type: '', state: '' },
  seenFrom: '',
  /** hostname → endpointz answer for the proxy in `seenFrom`. */
  explained: new Map(),
  open: new Set(),
};

// ---- DOM helpers: text goes in as text nodes, attributes by name ----

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.setAttribute('class', String(value));
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function replace(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren();
  append(target, children);
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h })))), el('tbody', {}, rows));
}

const badge = (text, tone) => el('span', { class: `badge ${tone || ''}`, text });
const empty = (text) => el('p', { class: 'empty', text });
const more = (total, hint) => (total > MAX_ROWS ? el('p', { class: 'muted', text: `showing ${MAX_ROWS} of ${total}; ${hint}` }) : null);

// ---- time ----

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const ago = (iso) => (iso ? `${duration(Date.now() - Date.parse(iso))} ago` : '–');
const until = (iso) => {
  if (!iso) return 'none';
  const left = Date.parse(iso) - Date.now();
  return left <= 0 ? `expired ${duration(-left)} ago` : `in ${duration(left)}`;
};
const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });

// ---- data ----

async function getJson(path, allowed = []) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok && !allowed.includes(res.status)) {
    throw new Error(`${path}: HTTP ${res.status}${body && typeof body.error === 'string' ? `: ${body.error}` : ''}`);
  }
  return body;
}

async function poll() {
  const started = Date.now();
  // A hidden tab asks for nothing; a large mesh (slow answers) is asked less often.
  if (document.hidden) return void setTimeout(poll, POLL_MS);
  try {
    const [version, ready, ca, clusterz, registry, sync, secretz] = await Promise.all([
      getJson('/debug/version'),
      getJson('/readyz', [503]),
      getJson('/debug/ca'),
      getJson('/debug/clusterz'),
      // One registryz page as large as the page draws; totals say how many there are in all.
      getJson(`/debug/registryz?limit=${MAX_ROWS}`),
      getJson('/debug/syncz'),
      getJson('/debug/secretz'),
    ]);
    const certExpiry = new Map(secretz.connections.map((c) => [c.connection, c.notAfter]));
    state.data = { version, ready, ca, clusterz, registry, sync, certExpiry };
    await explainServices();
    state.fetchedAt = Date.now();
    state.error = '';
    render();
  } catch (err) {
    state.error = err instanceof Error ? err.message : String(err);
    renderFreshness();
  } finally {
    setTimeout(poll, Math.max(POLL_MS, 5 * (Date.now() - started)));
  }
}

/** "As seen from proxy X": endpointz for every service, for that proxy's connection. */
async function explainServices() {
  state.explained = new Map();
  const proxy = state.seenFrom;
  if (!proxy || !state.data.sync.proxies.some((p) => p.connection === proxy)) return;
  const services = state.data.registry.services.slice(0, 50);
  const answers = await Promise.all(
    services.map((s) => getJson(`/debug/endpointz?service=${encodeURIComponent(s.hostname)}&proxy=${encodeURIComponent(proxy)}`).catch(() => undefined)),
  );
  services.forEach((s, i) => answers[i] && state.explained.set(s.hostname, answers[i]));
}

// ---- rendering ----

function render() {
  renderSummary();
  renderFreshness();
  renderTopology();
  renderClusters();
  renderProxies();
  renderServices();
  renderPushes();
  renderConflicts();
}

function item(label, ...value) {
  return el('div', {}, el('dt', { text: label }), el('dd', {}, value));
}

function renderSummary() {
  if (!state.data) return;
  const { version, ready, ca, clusterz, registry } = state.data;
  const expiries = clusterz.clusters.map((c) => c.credentialExpiry).filter(Boolean).sort();
  const waiting = (ready.waitingFor || []).concat(ready.missing || []);
  replace(
    'summary',
    item('version', version.version),
    item('replica', el('span', { class: 'mono', text: version.replica })),
    item('uptime', duration(Date.now() - Date.parse(version.startedAt))),
    item('readiness', ready.ready ? badge('ready', 'ok') : badge(ready.draining ? 'draining' : 'not ready', 'bad'), waiting.length ? ` ${waiting.join(', ')}` : ''),
    item('registry', el('span', { class: 'mono', title: registry.digest, text: registry.digest.slice(0, 12) })),
    item('CA expires', ca.signing ? until(ca.signing.notAfter) : 'not loaded'),
    item('serving cert', ca.serving ? until(ca.serving.notAfter) : '–'),
    item('credentials', expiries.length ? until(expiries[0]) : 'none expire'),
  );
}

function renderFreshness() {
  const node = document.getElementById('freshness');
  if (state.error) {
    node.textContent = `cannot read Meridian (${state.error})${state.fetchedAt ? `; showing data from ${duration(Date.now() - state.fetchedAt)} ago` : ''}`;
    node.className = 'stale';
    return;
  }
  node.textContent = state.fetchedAt ? `updated ${duration(Date.now() - state.fetchedAt)} ago · every ${POLL_MS / 1000} s` : 'loading…';
  node.className = '';
}

const STATE_TONE = { Synced: 'ok', Syncing: 'info', Degraded: 'warn', Stale: 'bad' };

/** Where a manifest problem is: file:line when the reason has a line, else the document number. */
function fileProblem(directory, file, error) {
  const line = /line (\d+)/.exec(error.reason);
  const name = directory && file.startsWith(`${directory}/`) ? file.slice(directory.length + 1) : file;
  return `${name}${line ? `:${line[1]}` : ` (document ${error.document})`}: ${error.reason}`;
}

function clusterProblems(c) {
  const out = [];
  if (c.lastError) out.push(`${c.lastError.message} (${ago(c.lastError.at)})`);
  for (const f of (c.source && c.source.files) || []) if (f.error) out.push(fileProblem(c.source.directory, f.file, f.error));
  for (const p of (c.source && c.source.watch && c.source.watch.problems) || []) out.push(typeof p === 'string' ? p : JSON.stringify(p));
  if (c.missingPermissions && c.missingPermissions.length) out.push(`missing permissions: ${c.missingPermissions.join(', ')}`);
  if (c.rejectedEndpoints && c.rejectedEndpoints.count) {
    const first = c.rejectedEndpoints.items[0];
    out.push(`${c.rejectedEndpoints.count} endpoints rejected${first ? `, e.g. ${first.address}: ${first.reason}` : ''}`);
  }
  return out;
}

function renderClusters() {
  const clusters = state.data.clusterz.clusters;
  if (!clusters.length) return replace('clusters', empty('no clusters'));
  replace(
    'clusters',
    table(
      ['cluster', 'state', 'last event', 'events', 'services', 'slices', 'pods', 'origin', 'credentials', 'errors'],
      clusters.map((c) => {
        const problems = clusterProblems(c);
        return el(
          'tr',
          { 'data-cluster': c.id, 'data-state': c.state },
          el('td', {}, el('strong', { text: c.id }), el('div', { class: 'muted', text: c.network })),
          el('td', {}, badge(c.state, STATE_TONE[c.state]), el('div', { class: 'muted', text: `since ${ago(c.since)}` })),
          el('td', { text: ago(c.lastEventAt) }),
          el('td', { class: 'num', text: c.events }),
          el('td', { class: 'num', text: c.objects.services ?? 0 }),
          el('td', { class: 'num', text: c.objects.endpointSlices ?? 0 }),
          el('td', { class: 'num', text: c.objects.pods ?? 0 }),
          el('td', { text: c.origin }),
          el('td', { text: c.credentialExpiry ? until(c.credentialExpiry) : '–' }),
          el('td', {}, problems.length ? problems.map((p) => el('div', { class: 'error mono', text: p })) : el('span', { class: 'muted', text: 'none' })),
        );
      }),
    ),
  );
}

function syncState(t) {
  if (!t) return undefined;
  if (t.lastNack && t.sent.version !== t.acked.version) return 'NACKED';
  if (t.synced) return 'SYNCED';
  return t.sent.version === null ? 'WAITING' : 'STALE';
}

const SYNC_TONE = { SYNCED: 'ok', STALE: 'warn', WAITING: 'info', NACKED: 'bad' };

function proxyState(p) {
  const states = Object.values(p.types).map(syncState);
  return SYNC_ORDER.find((s) => states.includes(s)) || 'WAITING';
}

/** Keeps a <select>'s options in step with the values present, and the user's choice. */
function fillSelect(id, values, label = (v) => v) {
  const select = document.getElementById(id);
  const chosen = select.value;
  const first = select.options[0];
  select.replaceChildren(first, ...values.map((v) => el('option', { value: v, text: label(v) })));
  select.value = values.includes(chosen) ? chosen : '';
}

function renderProxies() {
  const proxies = state.data.sync.proxies;
  fillSelect('proxy-cluster', [...new Set(proxies.map((p) => p.cluster))].sort());
  fillSelect('proxy-type', [...new Set(proxies.map((p) => p.type))].sort());
  fillSelect('seen-from', proxies.map((p) => p.connection), (c) => {
    const p = proxies.find((x) => x.connection === c);
    return `${p.node} (${p.cluster})`;
  });
  const f = state.filters;
  const shown = proxies.filter((p) => (!f.cluster || p.cluster === f.cluster) && (!f.type || p.type === f.type) && (!f.state || proxyState(p) === f.state));
  if (!shown.length) return replace('proxies', empty(proxies.length ? 'no proxy matches the filters' : 'no proxy connected'));
  const types = [...new Set(shown.flatMap((p) => Object.keys(p.types)))].sort();
  replace(
    'proxies',
    table(
      ['node', 'cluster', 'type', 'connected', 'identity', 'certificate', ...types, 'last NACK', 'config'],
      shown.slice(0, MAX_ROWS).map((p) => {
        const nacks = Object.entries(p.types).filter(([, t]) => t.lastNack);
        return el(
          'tr',
          { 'data-node': p.node, 'data-state': proxyState(p) },
          el('td', { class: 'mono', text: p.node }),
          el('td', { text: p.cluster }),
          el('td', { text: `${p.type} (${p.variant})` }),
          el('td', { text: ago(p.connectedAt) }),
          el('td', { class: 'mono', text: p.identity || 'plaintext' }),
          el('td', { text: state.data.certExpiry.get(p.connection) ? `expires ${until(state.data.certExpiry.get(p.connection))}` : '–' }),
          types.map((type) => {
            const t = p.types[type];
            const s = syncState(t);
            return el('td', {}, s ? badge(s, SYNC_TONE[s]) : '–', t ? el('div', { class: 'muted mono', text: t.sent.version || '' }) : null);
          }),
          el('td', {}, nacks.map(([type, t]) => el('div', { class: 'error mono', text: `${type}: ${t.lastNack.message || ''}` }))),
          el('td', {}, el('a', { href: `/debug/config_dump?proxy=${encodeURIComponent(p.connection)}`, target: '_blank', rel: 'noopener', text: 'config_dump' })),
        );
      }),
    ),
    more(shown.length, 'narrow it with the filters'),
  );
}

const locality = (l) => [l.region, l.zone, l.subzone].filter(Boolean).join('/') || '(none)';
const HEALTH_TONE = { healthy: 'ok', unhealthy: 'bad', draining: 'warn', terminating: 'warn' };

function endpointRows(service) {
  const sorted = [...(service.endpoints ?? [])].sort((a, b) => `${a.cluster}|${locality(a.locality)}`.localeCompare(`${b.cluster}|${locality(b.locality)}`));
  return table(
    ['cluster', 'locality', 'address', 'health', 'pod'],
    sorted.map((e) =>
      el(
        'tr',
        { 'data-endpoint': `${e.address}:${e.port}`, 'data-health': e.health },
        el('td', { text: e.cluster }),
        el('td', { text: locality(e.locality) }),
        el('td', { class: 'mono', text: `${e.address}:${e.port}` }),
        el('td', {}, badge(e.health, HEALTH_TONE[e.health]), e.stale ? badge('stale', 'warn') : null),
        el('td', { class: 'mono', text: e.pod || '–' }),
      ),
    ),
  );
}

function explainedRows(answer) {
  return [
    el('p', { class: 'muted', text: `as seen from ${answer.proxy.id} (cluster ${answer.proxy.cluster}, network ${answer.proxy.network}, locality ${locality(answer.proxy.locality)})` }),
    answer.ports.map((port) =>
      table(
        [`${port.cluster}`, 'locality', 'address', 'health', 'priority', 'weight', 'sent', 'why'],
        port.endpoints.map((e) =>
          el(
            'tr',
            { 'data-endpoint': `${e.address}:${e.port}`, 'data-priority': e.priority, 'data-sent': e.sent ? 'yes' : 'no' },
            el('td', { text: e.cluster || e.kind }),
            el('td', { text: e.locality ? locality(e.locality) : '–' }),
            el('td', { class: 'mono', text: `${e.address}:${e.port}` }),
            el('td', {}, e.health ? badge(e.health, HEALTH_TONE[e.health]) : '–'),
            el('td', { class: 'num', text: e.priority ?? '–' }),
            el('td', { class: 'num', text: e.weight ?? '–' }),
            el('td', { text: e.sent ? 'yes' : 'no' }),
            el('td', { text: e.reason || '' }),
          ),
        ),
      ),
    ),
  ];
}

function renderServices() {
  const services = state.data.registry.services;
  if (!services.length) return replace('services', empty('no services'));
  replace(
    'services',
    more(state.data.registry.totals?.services ?? services.length, 'the rest are in /debug/registryz'),
    services.slice(0, MAX_ROWS).map((s) => {
      // A service too big for one registryz page comes with its count only.
      const endpoints = s.endpoints ?? [];
      const healthy = endpoints.filter((e) => e.health === 'healthy').length;
      const answer = state.explained.get(s.hostname);
      return el(
        'details',
        {
          class: 'service',
          'data-service': s.hostname,
          open: state.open.has(s.hostname) ? '' : undefined,
          ontoggle: (ev) => (ev.target.open ? state.open.add(s.hostname) : state.open.delete(s.hostname)),
        },
        el(
          'summary',
          {},
          el('strong', { class: 'mono', text: s.hostname }),
          ` · ports ${s.ports.map((p) => p.port).join(', ')} · clusters ${s.clusters.join(', ')} · `,
          s.endpoints ? badge(`${healthy}/${endpoints.length} healthy`, healthy === endpoints.length ? 'ok' : healthy === 0 ? 'bad' : 'warn') : badge(`${s.endpointCount} endpoints`, 'warn'),
        ),
        answer ? explainedRows(answer) : endpointRows(s),
      );
    }),
  );
}

function renderPushes() {
  const pushes = (state.data.sync.recentPushes || []).slice(-20).reverse();
  if (!pushes.length) return replace('pushes', empty('no push yet'));
  const longest = Math.max(1, ...pushes.map((p) => p.durationMs || 0));
  replace(
    'pushes',
    el(
      'div',
      { class: 'timeline' },
      pushes.map((p) =>
        el(
          'div',
          { class: 'push', 'data-kind': p.kind },
          el('span', { class: 'mono', text: clock(p.at) }),
          badge(p.kind, p.kind === 'full' ? 'info' : 'ok'),
          el('span', { class: 'mono', title: p.reasons.join(', '), text: `${p.reasons.slice(0, 4).join(', ')}${p.reasons.length > 4 ? ` +${p.reasons.length - 4}` : ''}` }),
          el('span', { text: `${p.connections} conn` }),
          el('span', { class: 'took' }, el('span', { class: 'track' }, el('div', { class: 'bar' })), p.durationMs === null || p.durationMs === undefined ? 'pushing…' : `${p.durationMs} ms`),
        ),
      ),
    ),
  );
  // Bar widths through CSSOM: the style policy allows no inline style attributes.
  document.querySelectorAll('#pushes .bar').forEach((bar, i) => {
    bar.style.width = `${Math.round(((pushes[i].durationMs || 0) / longest) * 100)}%`;
  });
}

function renderConflicts() {
  const conflicts = state.data.registry.conflicts;
  if (!conflicts.length) return replace('conflicts', empty('none: every cluster agrees on every service'));
  replace(
    'conflicts',
    table(
      ['service', 'port', 'field', 'values', 'served'],
      conflicts.map((c) =>
        el(
          'tr',
          {},
          el('td', { class: 'mono', text: c.hostname }),
          el('td', { class: 'num', text: c.port }),
          el('td', { text: c.field }),
          el('td', { class: 'mono', text: Object.entries(c.values).map(([k, v]) => `${k}=${v}`).join(', ') }),
          el('td', { text: c.winner }),
        ),
      ),
    ),
  );
}

// ---- topology: clusters as boxes with their services; a line joins a service's clusters ----

function renderTopology() {
  const clusters = state.data.clusterz.clusters;
  const services = state.data.registry.services;
  const gateways = state.data.registry.gateways || {};
  const BOX_W = 250;
  const GAP = 90;
  const ROW = 24;
  const TOP = 50;
  const BOX_ROWS = 10;
  const perCluster = clusters.map((c) => services.filter((s) => (s.endpoints ?? []).some((e) => e.cluster === c.id)));
  const rows = Math.min(BOX_ROWS, Math.max(1, ...perCluster.map((list) => list.length)));
  const gwRows = Math.max(0, ...clusters.map((c) => (gateways[c.network] || []).length));
  const boxH = TOP + rows * ROW + (gwRows ? 10 + gwRows * ROW : 0) + 12;
  const width = Math.max(1, clusters.length) * (BOX_W + GAP) - GAP + 20;
  const height = boxH + 20;
  const rowY = new Map(); // `${cluster}|${hostname}` → y of the row's middle
  const parts = [];
  clusters.forEach((c, i) => {
    const x = 10 + i * (BOX_W + GAP);
    parts.push(svg('rect', { class: `cluster-box ${c.state === 'Synced' ? '' : 'bad'}`, x, y: 10, width: BOX_W, height: boxH, rx: 8 }));
    parts.push(svg('text', { class: 'cluster-title', x: x + 12, y: 32 }, `${c.id} · ${c.state}`));
    const problems = clusterProblems(c).length;
    parts.push(svg('text', { x: x + 12, y: 48, class: 'network' }, `network ${c.network}`, problems ? svg('tspan', { class: 'problems' }, ` · ${problems} error${problems > 1 ? 's' : ''}`) : null));
    const list = perCluster[i];
    list.slice(0, BOX_ROWS).forEach((s, r) => {
      const y = 10 + TOP + r * ROW;
      const here = (s.endpoints ?? []).filter((e) => e.cluster === c.id);
      const unhealthy = here.some((e) => e.health !== 'healthy');
      parts.push(svg('rect', { class: `svc ${unhealthy ? 'unhealthy' : ''}`, x: x + 10, y, width: BOX_W - 20, height: ROW - 4, rx: 4 }));
      parts.push(svg('text', { x: x + 16, y: y + 15 }, `${s.hostname.split('.').slice(0, 2).join('.')} · ${here.filter((e) => e.health === 'healthy').length}/${here.length}`));
      rowY.set(`${c.id}|${s.hostname}`, y + (ROW - 4) / 2);
    });
    if (list.length > BOX_ROWS) parts.push(svg('text', { x: x + 16, y: 10 + TOP + BOX_ROWS * ROW - 6 }, `+${list.length - BOX_ROWS} more`));
    (gateways[c.network] || []).forEach((g, r) => {
      const y = 10 + TOP + rows * ROW + 10 + r * ROW;
      parts.push(svg('rect', { class: 'gateway', x: x + 10, y, width: BOX_W - 20, height: ROW - 4, rx: 4 }));
      parts.push(svg('text', { x: x + 16, y: y + 15 }, `gateway ${g.address}:${g.port}`));
    });
  });
  // One line per pair of neighbouring clusters that both have the service.
  for (const s of services) {
    const at = clusters.map((c, i) => ({ i, y: rowY.get(`${c.id}|${s.hostname}`) })).filter((p) => p.y !== undefined);
    for (let k = 1; k < at.length; k++) {
      const a = at[k - 1];
      const b = at[k];
      const x1 = 10 + a.i * (BOX_W + GAP) + BOX_W - 10;
      const x2 = 10 + b.i * (BOX_W + GAP) + 10;
      parts.push(svg('path', { class: 'link', d: `M${x1},${a.y} C${x1 + GAP},${a.y} ${x2 - GAP},${b.y} ${x2},${b.y}` }, svg('title', {}, s.hostname)));
    }
  }
  if (!clusters.length) return replace('topology', empty('no clusters'));
  replace('topology', svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'clusters, their services and the services they share' }, parts));
}

// ---- wiring ----

function bindFilters() {
  for (const [id, key] of [['proxy-cluster', 'cluster'], ['proxy-type', 'type'], ['proxy-state', 'state']]) {
    document.getElementById(id).addEventListener('change', (ev) => {
      state.filters[key] = ev.target.value;
      if (state.data) renderProxies();
    });
  }
  document.getElementById('seen-from').addEventListener('change', async (ev) => {
    state.seenFrom = ev.target.value;
    if (!state.data) return;
    await explainServices();
    renderServices();
  });
}

bindFilters();
void poll();
// Countdowns and "ago" move every second between polls.
setInterval(() => {
  if (!state.data) return;
  renderSummary();
  renderFreshness();
}, 1000);
