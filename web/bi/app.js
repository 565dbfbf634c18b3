// Embudo BI: a small single-page app over /bi/api (plain ES module, ECharts from /bi/vendor).
import { h, clear, fmt, table, download, api } from './ui.js';

const state = { me: null, options: null, filters: null, charts: [] };
const app = document.getElementById('app');

// Default range: the last 30 days of data (or all of it when there is less).
function defaultFilters(options) {
  const to = options.maxDate ?? new Date().toISOString().slice(0, 10);
  const month = new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
  const from = options.minDate && options.minDate > month ? options.minDate : month;
  return { from, to, category: '', location: '', region: '', method: '' };
}

function filterQuery(extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v !== '' && v !== undefined && v !== null) q.set(k, String(v));
  return q.toString();
}

// ---------- login ----------
function renderLogin(message = '') {
  clear(app);
  const err = h('div', { class: 'error', id: 'login-error' }, message);
  const form = h('form', { id: 'login' },
    h('h1', {}, 'Embudo BI'),
    h('p', {}, 'Dashboards and governance for the data team.'),
    h('label', {}, 'Username', h('input', { name: 'username', autocomplete: 'username', required: true })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    err,
    h('button', { class: 'btn', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      await api('POST', '/bi/api/login', { username: data.get('username'), password: data.get('password') });
      await boot();
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  app.append(h('div', { class: 'login' }, form));
}

// ---------- shell ----------
function nav() {
  const { access } = state.me;
  const here = location.hash || '#/';
  const link = (href, text, id) => h('a', { href, id, class: here === href ? 'active' : '' }, text);
  const items = [h('div', { class: 'brand' }, h('span', { class: 'dot' }), 'Embudo BI')];
  if (state.me.dashboards.length) items.push(h('div', { class: 'group' }, 'Dashboards'));
  for (const d of state.me.dashboards) items.push(link(`#/d/${d.id}`, d.title, `nav-${d.id}`));
  const tools = [];
  if (access.abilities.includes('explorer')) tools.push(link('#/sql', 'SQL explorer', 'nav-sql'));
  if (access.abilities.includes('fraud_review') || access.abilities.includes('governance')) tools.push(link('#/reviews', 'Fraud review queue', 'nav-reviews'));
  tools.push(link('#/alerts', 'Alerts', 'nav-alerts'));
  if (access.abilities.includes('governance')) tools.push(link('#/governance', 'Governance', 'nav-governance'));
  if (access.abilities.includes('admin')) tools.push(link('#/admin', 'Users & roles', 'nav-admin'));
  items.push(h('div', { class: 'group' }, 'Tools'), ...tools);
  const logout = h('button', { id: 'logout' }, 'Sign out');
  logout.addEventListener('click', async () => {
    await api('POST', '/bi/api/logout');
    location.hash = '#/';
    renderLogin();
  });
  items.push(h('div', { class: 'who' }, h('b', { id: 'whoami' }, state.me.user.username), access.roles.join(' · '),
    access.abilities.includes('unmasked_pii') ? '' : h('div', { class: 'muted' }, 'PII masked'), h('div', {}, logout)));
  return h('nav', { class: 'side' }, ...items);
}

function filterBar(applicable, notes, onApply) {
  const o = state.options;
  const f = state.filters;
  // A filter that cannot apply here is disabled (its value is kept for the other dashboards),
  // with the reason as a hint when the dashboard gives one.
  const why = (key) => notes?.[key] ?? 'Does not apply to this dashboard';
  const off = (key) => !applicable.includes(key);
  const sel = (name, label, values, key) => h('label', { class: off(key) ? 'na' : '', title: off(key) ? why(key) : '' }, label,
    h('select', { name, id: `f-${name}`, disabled: off(key), 'aria-describedby': off(key) && notes?.[key] ? `hint-${key}` : undefined },
      h('option', { value: '' }, 'All'), ...values.map((v) => h('option', { value: v, selected: f[name] === v }, v))));
  const hints = Object.entries(notes ?? {}).filter(([key]) => off(key))
    .map(([key, text]) => h('p', { class: 'filter-hint', id: `hint-${key}` }, h('b', {}, `${key[0].toUpperCase()}${key.slice(1)} filter off here: `), text));
  const bar = h('form', { class: 'filters', id: 'filters' },
    h('label', { class: off('date') ? 'na' : '' }, 'From', h('input', { type: 'date', name: 'from', id: 'f-from', value: f.from, disabled: off('date') })),
    h('label', { class: off('date') ? 'na' : '' }, 'To', h('input', { type: 'date', name: 'to', id: 'f-to', value: f.to, disabled: off('date') })),
    sel('category', 'Category', o.categories, 'category'),
    sel('location', 'Location', o.locations, 'location'),
    sel('region', 'Región', o.regions, 'region'),
    sel('method', 'Payment method', o.methods, 'method'),
    h('button', { class: 'btn', type: 'submit', id: 'apply' }, 'Apply'),
    ...hints);
  bar.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(bar);
    // Disabled fields are not submitted: keep their values for the dashboards they apply to.
    for (const k of Object.keys(state.filters)) if (data.has(k)) state.filters[k] = String(data.get(k) ?? '');
    onApply();
  });
  return bar;
}

function disposeCharts() {
  for (const c of state.charts) c.dispose();
  state.charts = [];
}

// ---------- dashboards ----------
async function renderDashboard(main, id) {
  const def = state.me.dashboards.find((d) => d.id === id);
  if (!def) {
    main.append(h('div', { class: 'banner' }, 'This dashboard is not available to your roles.'));
    return;
  }
  const body = h('div', { id: 'dashboard', 'data-dashboard': id });
  const load = async () => {
    disposeCharts();
    clear(body);
    body.append(h('p', { class: 'muted' }, 'Loading…'));
    let data;
    try {
      data = await api('GET', `/bi/api/dashboards/${id}?${filterQuery()}`);
    } catch (ex) {
      clear(body);
      body.append(h('div', { class: 'banner' }, ex.message));
      return;
    }
    clear(body);
    clear(barSlot);
    barSlot.append(filterBar(data.dashboard.filters, data.dashboard.filterNotes, load));
    body.append(h('h1', { class: 'page' }, data.dashboard.title), h('p', { class: 'lede' }, data.dashboard.description));
    const kpis = h('div', { class: 'kpis' });
    const grid = h('div', { class: 'grid' });
    for (const p of data.panels) {
      if (p.chart === 'kpi') kpis.append(kpiCard(id, p));
      else grid.append(panelCard(id, p));
    }
    body.append(kpis, grid);
    body.dataset.loaded = 'true';
  };
  const barSlot = h('div');
  main.append(barSlot, body);
  barSlot.append(filterBar([], load));
  await load();
}

function kpiCard(dashboard, p) {
  const row = p.rows[0] ?? {};
  const value = row.value;
  const card = h('div', { class: 'kpi', id: `kpi-${p.id}`, 'data-panel': p.id, 'data-value': value ?? '', title: p.drillable ? 'Click for the rows behind it' : '' },
    h('div', { class: 't' }, p.title),
    h('div', { class: `v${!p.available || p.error ? ' na' : ''}` }, !p.available ? 'not available' : p.error ? p.error : fmt(value, p.format)),
    p.note ? h('div', { class: 'n' }, p.note) : '');
  if (p.drillable) card.addEventListener('click', () => drill(dashboard, p, undefined));
  return card;
}

function panelCard(dashboard, p) {
  const wide = p.chart === 'table' || p.chart === 'heatmap' || (p.rows.length > 14 && p.chart !== 'hbar');
  const exportBtn = h('button', { class: 'btn ghost small', title: 'Rows behind this panel as CSV' }, 'CSV');
  exportBtn.addEventListener('click', () => download(`/bi/api/dashboards/${dashboard}/panels/${p.id}/rows?${filterQuery({ format: 'csv' })}`, `${dashboard}-${p.id}.csv`));
  const card = h('section', { class: `panel${wide ? ' wide' : ''}`, id: `panel-${p.id}`, 'data-panel': p.id },
    h('header', {}, h('h3', {}, p.title), p.drillable ? exportBtn : ''));
  if (!p.available) {
    card.append(h('div', { class: 'na-box' }, 'not available in this deployment'));
    return card;
  }
  if (p.error) {
    card.append(h('div', { class: 'na-box' }, `This panel ${p.error}.`));
    return card;
  }
  if (p.rows.length === 0) {
    card.append(h('div', { class: 'na-box' }, p.id === 'alerts' ? 'No alert is firing' : p.drillable ? 'No data for these filters' : 'Nothing to show'));
  } else if (p.chart === 'table') {
    card.append(table(p.rows, { onRow: p.drillable && p.drillKey ? (r) => drill(dashboard, p, r[p.drillKey]) : undefined }));
  } else {
    const el = h('div', { class: 'chart' });
    card.append(el);
    requestAnimationFrame(() => {
      const chart = window.echarts.init(el, null, { renderer: 'canvas' });
      chart.on('finished', () => { el.dataset.ready = 'true'; });
      chart.setOption(chartOption(p));
      chart.on('click', (e) => {
        if (!p.drillable) return;
        const label = p.chart === 'heatmap' ? e.data?.cohort : e.name;
        drill(dashboard, p, label);
      });
      state.charts.push(chart);
    });
  }
  if (p.note) card.append(h('div', { class: 'note' }, p.note));
  return card;
}

const PALETTE = ['#3b5bdb', '#12b886', '#f59f00', '#e64980', '#7048e8', '#15aabf', '#fa5252', '#82c91e'];

function chartOption(p) {
  const labels = p.rows.map((r) => String(r.label));
  const measures = p.measures;
  const axisFmt = (f) => (v) => fmt(v, f, true);
  const tooltip = { trigger: p.chart === 'pie' ? 'item' : 'axis', valueFormatter: (v) => fmt(v, p.format) };
  if (p.chart === 'pie') {
    const m = measures[0].name;
    return {
      color: PALETTE, tooltip: { trigger: 'item', valueFormatter: (v) => fmt(v, measures[0].format ?? p.format) },
      legend: { bottom: 0, type: 'scroll' },
      series: [{ type: 'pie', radius: ['42%', '70%'], center: ['50%', '45%'], itemStyle: { borderColor: '#fff', borderWidth: 2 },
        label: { formatter: '{b}: {d}%' }, data: p.rows.map((r) => ({ name: String(r.label), value: Number(r[m]) })) }],
    };
  }
  if (p.chart === 'heatmap') {
    const cohorts = [...new Set(p.rows.map((r) => String(r.label)))];
    const offsets = [...new Set(p.rows.map((r) => Number(r.label2)))].sort((a, b) => a - b);
    const base = new Map(p.rows.filter((r) => Number(r.label2) === 0).map((r) => [String(r.label), Number(r[measures[0].name])]));
    const data = p.rows.map((r) => {
      const n = Number(r[measures[0].name]);
      const b = base.get(String(r.label)) || n;
      return { value: [offsets.indexOf(Number(r.label2)), cohorts.indexOf(String(r.label)), Math.round((n / b) * 100)], n, cohort: String(r.label) };
    });
    return {
      tooltip: { formatter: (e) => `${cohorts[e.value[1]]} · month +${offsets[e.value[0]]}<br>${e.value[2]}% (${e.data.n} customers)` },
      grid: { left: 70, right: 70, top: 10, bottom: 40 },
      xAxis: { type: 'category', data: offsets.map((o) => `+${o}`), name: 'months since first order', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'category', data: cohorts, inverse: true },
      visualMap: { min: 0, max: 100, orient: 'vertical', right: 0, top: 'center', itemHeight: 120, inRange: { color: ['#edf2ff', '#3b5bdb'] }, text: ['100%', '0%'] },
      series: [{ type: 'heatmap', data, label: { show: true, formatter: (e) => `${e.value[2]}%` } }],
    };
  }
  const horizontal = p.chart === 'hbar';
  const secondFmt = measures.find((m) => (m.format ?? p.format) !== (measures[0].format ?? p.format));
  const minInt = (f) => (f === 'int' ? 1 : undefined);
  const yAxes = [{ type: 'value', minInterval: minInt(measures[0].format ?? p.format), axisLabel: { formatter: axisFmt(measures[0].format ?? p.format) }, splitLine: { lineStyle: { color: '#eef1f6' } } }];
  if (secondFmt) yAxes.push({ type: 'value', minInterval: minInt(secondFmt.format ?? p.format), axisLabel: { formatter: axisFmt(secondFmt.format ?? p.format) }, splitLine: { show: false } });
  const cat = { type: 'category', data: labels, axisLabel: { hideOverlap: true }, axisTick: { alignWithLabel: true } };
  return {
    color: PALETTE,
    tooltip: { ...tooltip, valueFormatter: undefined, formatter: (items) => {
      const arr = Array.isArray(items) ? items : [items];
      return [`<b>${arr[0]?.name ?? ''}</b>`, ...arr.map((i) => `${i.marker} ${i.seriesName}: ${fmt(i.value, measures[i.seriesIndex]?.format ?? p.format)}`)].join('<br>');
    } },
    legend: measures.length > 1 ? { top: 0 } : undefined,
    grid: { left: horizontal ? 140 : 70, right: secondFmt ? 70 : 20, top: measures.length > 1 ? 30 : 12, bottom: 30, containLabel: false },
    xAxis: horizontal ? yAxes[0] : cat,
    yAxis: horizontal ? { ...cat, inverse: true } : yAxes,
    series: measures.map((m, i) => ({
      name: m.name,
      type: p.chart === 'line' ? 'line' : 'bar',
      smooth: false,
      showSymbol: p.rows.length < 40,
      areaStyle: p.chart === 'line' && i === 0 ? { opacity: 0.08 } : undefined,
      yAxisIndex: !horizontal && secondFmt && (m.format ?? p.format) !== (measures[0].format ?? p.format) ? 1 : 0,
      barMaxWidth: 36,
      itemStyle: p.chart !== 'line' ? { borderRadius: horizontal ? [0, 4, 4, 0] : [4, 4, 0, 0] } : undefined,
      data: p.rows.map((r) => Number(r[m.name])),
    })),
  };
}

async function drill(dashboard, p, value) {
  const q = filterQuery(value === undefined ? {} : { value });
  const scrim = h('div', { class: 'scrim' });
  const close = h('button', { class: 'btn ghost small', id: 'drill-close' }, 'Close');
  const csv = h('button', { class: 'btn small', id: 'drill-csv' }, 'Export CSV');
  const body = h('div', { class: 'body' }, h('p', { class: 'muted' }, 'Loading…'));
  const drawer = h('aside', { class: 'drawer', id: 'drill' },
    h('header', {}, h('h2', {}, `${p.title}${value !== undefined ? ` · ${value}` : ''}`), h('div', { class: 'toolbar' }, csv, close)), body);
  const done = () => { scrim.remove(); drawer.remove(); };
  close.addEventListener('click', done);
  scrim.addEventListener('click', done);
  csv.addEventListener('click', () => download(`/bi/api/dashboards/${dashboard}/panels/${p.id}/rows?${filterQuery({ ...(value === undefined ? {} : { value }), format: 'csv' })}`, `${dashboard}-${p.id}.csv`));
  document.body.append(scrim, drawer);
  try {
    const data = await api('GET', `/bi/api/dashboards/${dashboard}/panels/${p.id}/rows?${q}`);
    clear(body);
    body.append(h('p', { class: 'muted', id: 'drill-count', 'data-rows': data.rows.length }, `${data.rows.length} row(s)${data.rows.length >= 1000 ? ' (first 1,000; export for all)' : ''}`), table(data.rows));
  } catch (ex) {
    clear(body);
    body.append(h('div', { class: 'banner' }, ex.message));
  }
}

// ---------- router ----------
async function route() {
  disposeCharts();
  document.querySelectorAll('.drawer, .scrim').forEach((el) => el.remove());
  clear(app);
  const main = h('main', { class: 'main' });
  app.append(h('div', { class: 'shell' }, nav(), main));
  const hash = location.hash || '#/';
  const [, page, arg] = hash.split('/');
  const pages = await import('./pages.js');
  if (page === 'd' && arg) return renderDashboard(main, arg);
  const can = (a) => state.me.access.abilities.includes(a);
  const refused = () => main.append(h('div', { class: 'banner', id: 'refused' }, 'This page is not available to your roles.'));
  if (page === 'sql') return can('explorer') ? pages.renderSql(main, state) : refused();
  if (page === 'governance') return can('governance') ? pages.renderGovernance(main, state) : refused();
  if (page === 'admin') return can('admin') ? pages.renderAdmin(main, state) : refused();
  if (page === 'alerts') return pages.renderAlerts(main, state);
  if (page === 'reviews') return pages.renderReviews(main, state);
  const first = state.me.dashboards[0];
  if (first) {
    location.hash = `#/d/${first.id}`;
    return undefined;
  }
  return location.hash = state.me.access.abilities.includes('admin') ? '#/admin' : '#/alerts';
}

async function boot() {
  try {
    state.me = await api('GET', '/bi/api/me');
  } catch {
    renderLogin();
    return;
  }
  state.options = await api('GET', '/bi/api/filters').catch(() => ({ categories: [], locations: [], regions: [], methods: [], minDate: null, maxDate: null }));
  state.filters ??= defaultFilters(state.options);
  await route();
}

window.addEventListener('hashchange', () => { if (state.me) void route(); });
window.addEventListener('resize', () => { for (const c of state.charts) c.resize(); });
void boot();
