// The BI's tool pages: SQL explorer, governance, users & roles, alerts, fraud review queue.
import { h, clear, fmt, table, download, api } from './ui.js';

const page = (main, title, lede) => main.append(h('h1', { class: 'page' }, title), h('p', { class: 'lede' }, lede));

// ---------- SQL explorer ----------
export function renderSql(main) {
  page(main, 'SQL explorer', 'Read-only SQL over the warehouse. Queries are limited in time and rows; writes, DDL and file access are refused.');
  const editor = h('textarea', { id: 'sql', spellcheck: 'false' },
    "SELECT region, count(DISTINCT order_id) AS orders, sum(amount) AS gmv\nFROM fact_order_line\nGROUP BY region\nORDER BY gmv DESC");
  const limit = h('select', { id: 'sql-limit' }, ...[100, 1000, 10000].map((n) => h('option', { value: n, selected: n === 1000 }, `${n} rows`)));
  const run = h('button', { class: 'btn', id: 'sql-run' }, 'Run  (Ctrl+Enter)');
  const csv = h('button', { class: 'btn ghost', id: 'sql-csv' }, 'Export CSV');
  const pq = h('button', { class: 'btn ghost', id: 'sql-parquet' }, 'Export Parquet');
  const status = h('span', { class: 'muted', id: 'sql-status' });
  const out = h('div', { id: 'sql-result' });
  const chartEl = h('div', { class: 'chart', id: 'sql-chart', style: 'display:none' });
  main.append(h('div', { class: 'panel sql' }, editor, h('div', { class: 'toolbar' }, run, limit, csv, pq, status)),
    h('div', { class: 'grid', style: 'margin-top:16px' }, h('section', { class: 'panel wide' }, chartEl, out)));
  let chart;
  const go = async () => {
    status.textContent = 'Running…';
    clear(out);
    try {
      const r = await api('POST', '/bi/api/sql', { sql: editor.value, limit: Number(limit.value) });
      status.textContent = `${r.rows.length} row(s) in ${r.ms} ms${r.truncated ? ' — truncated at the row limit' : ''}`;
      out.append(table(r.rows));
      quickChart(r);
    } catch (ex) {
      status.textContent = '';
      out.append(h('div', { class: 'banner', id: 'sql-error', 'data-code': ex.code ?? '' }, `${ex.code ? `${ex.code}: ` : ''}${ex.message}`));
      chartEl.style.display = 'none';
    }
  };
  // A quick chart: first text column as categories, numeric columns as bars.
  const quickChart = (r) => {
    const cols = r.columns;
    const numeric = cols.filter((c) => r.rows.every((row) => row[c] === null || !Number.isNaN(Number(row[c]))));
    const label = cols.find((c) => !numeric.includes(c)) ?? cols[0];
    const values = numeric.filter((c) => c !== label).slice(0, 3);
    if (!label || values.length === 0 || r.rows.length > 200) {
      chartEl.style.display = 'none';
      return;
    }
    chartEl.style.display = '';
    chart?.dispose();
    chart = window.echarts.init(chartEl);
    chart.setOption({
      color: ['#3b5bdb', '#12b886', '#f59f00'], tooltip: { trigger: 'axis' }, legend: { top: 0 },
      grid: { left: 80, right: 20, top: 30, bottom: 40 },
      xAxis: { type: 'category', data: r.rows.map((row) => String(row[label])) },
      yAxis: { type: 'value', axisLabel: { formatter: (v) => fmt(v, 'num', true) } },
      series: values.map((c) => ({ name: c, type: 'bar', barMaxWidth: 36, data: r.rows.map((row) => Number(row[c])) })),
    });
  };
  run.addEventListener('click', go);
  editor.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void go(); });
  const exp = (format) => download('/bi/api/sql/export', `query.${format}`, { sql: editor.value, format }).catch((ex) => {
    clear(out);
    out.append(h('div', { class: 'banner' }, ex.message));
  });
  csv.addEventListener('click', () => exp('csv'));
  pq.addEventListener('click', () => exp('parquet'));
}

// ---------- governance ----------
export async function renderGovernance(main) {
  page(main, 'Governance', 'The data catalogue with PII tags and lineage, who can read what, and the access audit log.');
  const [catalog, matrix, audit] = await Promise.all([
    api('GET', '/bi/api/governance/catalog'), api('GET', '/bi/api/governance/matrix'), api('GET', '/bi/api/governance/audit?limit=200'),
  ]);
  const piiTag = (p) => h('span', { class: `tag ${p === 'none' ? 'ok' : p === 'direct_identifier' ? 'bad' : 'warn'}` }, p);
  const cat = h('section', { class: 'panel wide', id: 'catalog' }, h('header', {}, h('h3', {}, `Catalogue (${catalog.tables.length} tables)`)));
  const wrap = h('div', { class: 'tbl-wrap', style: 'max-height:520px' });
  const tbody = h('tbody');
  for (const t of catalog.tables) {
    tbody.append(h('tr', {}, h('td', {}, h('b', {}, t.table_name)), h('td', {}, t.dataset ?? '—'), h('td', { style: 'white-space:normal;min-width:260px' }, t.description),
      h('td', { style: 'white-space:normal' }, (t.lineage ?? []).join(' → ') || '—'),
      h('td', { style: 'white-space:normal' }, ...t.columns.map((c) => h('span', { style: 'display:inline-block;margin:2px 6px 2px 0' }, `${c.column_name} `, h('span', { class: 'muted' }, c.data_type.toLowerCase()), c.pii !== 'none' ? ' ' : '', c.pii !== 'none' ? piiTag(c.pii) : '')))));
  }
  wrap.append(h('table', {}, h('thead', {}, h('tr', {}, ...['table', 'dataset', 'description', 'lineage (sources)', 'columns · PII'].map((x) => h('th', {}, x)))), tbody));
  cat.append(wrap);

  const m = h('section', { class: 'panel', id: 'matrix' }, h('header', {}, h('h3', {}, 'Roles × datasets')));
  m.append(h('div', { class: 'tbl-wrap' }, h('table', { class: 'matrix' },
    h('thead', {}, h('tr', {}, h('th', {}, 'role'), ...matrix.datasets.map((d) => h('th', { title: d.description }, d.id)), h('th', {}, 'dashboards'), h('th', {}, 'abilities'))),
    h('tbody', {}, ...matrix.roles.map((r) => h('tr', {}, h('td', {}, h('b', {}, r)),
      ...matrix.datasets.map((d) => matrix.grants[r].datasets.includes(d.id) ? h('td', { class: 'yes' }, '✓') : h('td', { class: 'no' }, '·')),
      h('td', {}, matrix.grants[r].dashboards.join(', ')), h('td', {}, matrix.grants[r].abilities.join(', ') || '—')))))));
  const users = h('section', { class: 'panel' }, h('header', {}, h('h3', {}, 'Users and their roles')),
    table(matrix.users.map((u) => ({ user: u.username, roles: u.roles.join(', '), status: u.disabled ? 'disabled' : 'active' }))));

  const auditPanel = h('section', { class: 'panel wide', id: 'audit' }, h('header', {}, h('h3', {}, 'Access audit log (append-only)')));
  const who = h('input', { placeholder: 'username', id: 'audit-user' });
  const action = h('select', { id: 'audit-action' }, h('option', { value: '' }, 'any action'),
    ...['login', 'login_failed', 'dashboard', 'drill', 'export', 'query', 'query_refused', 'user_admin', 'fraud_review', 'alert_rule'].map((a) => h('option', { value: a }, a)));
  const list = h('div');
  const show = (entries) => {
    clear(list);
    list.append(table(entries.map((e) => ({ at: e.at.replace('T', ' ').slice(0, 19), user: e.username, roles: e.roles.join(','), action: e.action, target: e.target.length > 90 ? `${e.target.slice(0, 90)}…` : e.target, rows: e.rowCount ?? '' }))));
  };
  const filter = h('form', { class: 'form' }, h('label', {}, 'User', who), h('label', {}, 'Action', action), h('button', { class: 'btn ghost' }, 'Filter'));
  filter.addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ limit: '200' });
    if (who.value) q.set('username', who.value);
    if (action.value) q.set('action', action.value);
    show((await api('GET', `/bi/api/governance/audit?${q}`)).entries);
  });
  auditPanel.append(filter, list);
  show(audit.entries);
  main.append(h('div', { class: 'grid' }, cat, m, users, auditPanel));
}

// ---------- users & roles ----------
export async function renderAdmin(main) {
  page(main, 'Users & roles', 'Create users and assign roles. Passwords are stored as scrypt hashes; at least 12 characters.');
  const { users, roles } = await api('GET', '/bi/api/admin/users');
  const msg = h('div', { id: 'admin-msg' });
  const username = h('input', { name: 'username', id: 'new-username', placeholder: 'e.g. maria.analyst' });
  const password = h('input', { name: 'password', id: 'new-password', type: 'password', placeholder: '12+ characters' });
  const boxes = roles.map((r) => h('label', {}, h('input', { type: 'checkbox', value: r, id: `new-role-${r}` }), r));
  const form = h('form', { class: 'form panel', id: 'new-user' }, h('label', {}, 'Username', username), h('label', {}, 'Password', password),
    h('div', {}, h('div', { class: 'muted', style: 'font-size:11px;font-weight:600;text-transform:uppercase' }, 'Roles'), h('div', { class: 'checks' }, ...boxes)),
    h('button', { class: 'btn', id: 'create-user' }, 'Create user'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    try {
      const selected = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      await api('POST', '/bi/api/admin/users', { username: username.value, password: password.value, roles: selected });
      msg.append(h('div', { class: 'banner ok' }, `User ${username.value} created.`));
      clear(main);
      await renderAdmin(main);
    } catch (ex) {
      msg.append(h('div', { class: 'banner' }, ex.message));
    }
  });
  const tbody = h('tbody');
  for (const u of users) {
    const sel = roles.map((r) => h('label', {}, h('input', { type: 'checkbox', value: r, checked: u.roles.includes(r) }), r));
    const save = h('button', { class: 'btn small' }, 'Save roles');
    const toggle = h('button', { class: `btn small ${u.disabled ? 'ok' : 'ghost'}` }, u.disabled ? 'Enable' : 'Disable');
    save.addEventListener('click', async () => {
      try {
        await api('PATCH', `/bi/api/admin/users/${u.username}`, { roles: sel.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value) });
        save.textContent = 'Saved ✓';
      } catch (ex) {
        save.textContent = ex.message;
      }
    });
    toggle.addEventListener('click', async () => {
      await api('PATCH', `/bi/api/admin/users/${u.username}`, { disabled: !u.disabled });
      clear(main);
      await renderAdmin(main);
    });
    tbody.append(h('tr', {}, h('td', {}, h('b', {}, u.username)), h('td', {}, h('div', { class: 'checks' }, ...sel)), h('td', {}, u.disabled ? h('span', { class: 'tag bad' }, 'disabled') : h('span', { class: 'tag ok' }, 'active')),
      h('td', {}, u.createdAt.slice(0, 10)), h('td', {}, save, ' ', toggle)));
  }
  main.append(msg, form, h('section', { class: 'panel', id: 'users' }, h('div', { class: 'tbl-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, ...['user', 'roles', 'status', 'created', ''].map((x) => h('th', {}, x)))), tbody))));
}

// ---------- alerts ----------
export async function renderAlerts(main, state) {
  page(main, 'Alerts', 'Thresholds on KPIs, evaluated on a schedule; firing alerts are also exported as Prometheus metrics (embudo_bi_alert_firing).');
  const canEdit = state.me.access.abilities.includes('alerts');
  const render = (rules) => {
    clear(list);
    const tbody = h('tbody');
    for (const r of rules) {
      tbody.append(h('tr', { id: `alert-${r.id}` },
        h('td', {}, r.firing ? h('span', { class: 'tag bad' }, 'FIRING') : r.evaluatedAt ? h('span', { class: 'tag ok' }, 'ok') : h('span', { class: 'tag' }, 'pending')),
        h('td', {}, h('b', {}, r.id)), h('td', { style: 'white-space:normal' }, r.description), h('td', {}, r.kpi), h('td', {}, `${r.op} ${r.threshold}`),
        h('td', { class: 'num' }, r.value === null ? '—' : fmt(r.value, 'num')), h('td', {}, r.since ? r.since.replace('T', ' ').slice(0, 19) : ''),
        h('td', {}, r.evaluatedAt ? r.evaluatedAt.replace('T', ' ').slice(0, 19) : 'never')));
    }
    list.append(h('div', { class: 'tbl-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ...['state', 'rule', 'description', 'kpi', 'threshold', 'value', 'firing since', 'evaluated'].map((x) => h('th', {}, x)))), tbody)));
  };
  const list = h('div');
  const evaluate = h('button', { class: 'btn', id: 'alerts-evaluate' }, 'Evaluate now');
  evaluate.addEventListener('click', async () => render((await api('POST', '/bi/api/alerts/evaluate')).rules));
  main.append(h('section', { class: 'panel' }, canEdit ? h('div', { class: 'toolbar' }, evaluate) : '', list));
  render((await api('GET', '/bi/api/alerts')).rules);
  if (canEdit) {
    const id = h('input', { placeholder: 'rule-id' });
    const kpi = h('select', {}, ...['payments_pending_over_1h', 'etl_lag_seconds', 'approval_rate_24h', 'stockouts', 'dq_failing_checks', 'open_fraud_reviews'].map((k) => h('option', { value: k }, k)));
    const op = h('select', {}, ...['>', '>=', '<', '<='].map((o) => h('option', { value: o }, o)));
    const threshold = h('input', { type: 'number', step: 'any', value: '0' });
    const description = h('input', { placeholder: 'what it means', style: 'min-width:260px' });
    const msg = h('span', { class: 'muted' });
    const form = h('form', { class: 'form panel', style: 'margin-top:16px' }, h('label', {}, 'Rule', id), h('label', {}, 'KPI', kpi), h('label', {}, 'Op', op),
      h('label', {}, 'Threshold', threshold), h('label', {}, 'Description', description), h('button', { class: 'btn' }, 'Save rule'), msg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('PUT', `/bi/api/alerts/${encodeURIComponent(id.value)}`, { kpi: kpi.value, op: op.value, threshold: Number(threshold.value), description: description.value });
        render((await api('GET', '/bi/api/alerts')).rules);
        msg.textContent = 'Saved.';
      } catch (ex) {
        msg.textContent = ex.message;
      }
    });
    main.append(form);
  }
}

// ---------- fraud review queue ----------
export async function renderReviews(main, state) {
  page(main, 'Fraud review queue', 'Orders the fraud rules sent to manual review. Approve or reject; every decision is audited.');
  const r = await api('GET', '/bi/api/fraud-reviews');
  if (!r.available) {
    main.append(h('div', { class: 'na-box', id: 'reviews-na' }, 'The fraud review queue is not available in this deployment.'));
    return;
  }
  const canDecide = state.me.access.abilities.includes('fraud_review');
  const tbody = h('tbody');
  for (const rv of r.reviews) {
    const cell = h('td', {});
    if (rv.status === 'open' && canDecide) {
      for (const outcome of ['approve', 'reject']) {
        const b = h('button', { class: `btn small ${outcome === 'approve' ? 'ok' : 'bad'}`, 'data-review': rv.id, 'data-outcome': outcome }, outcome === 'approve' ? 'Approve' : 'Reject');
        b.addEventListener('click', async () => {
          await api('POST', `/bi/api/fraud-reviews/${encodeURIComponent(rv.id)}/decision`, { outcome });
          clear(main);
          await renderReviews(main, state);
        });
        cell.append(b, ' ');
      }
    } else cell.append(h('span', { class: `tag ${rv.status === 'approved' ? 'ok' : rv.status === 'rejected' ? 'bad' : ''}` }, rv.status));
    tbody.append(h('tr', { id: `review-${rv.id}` }, h('td', {}, rv.orderId), h('td', { class: 'num' }, fmt(rv.amount, 'clp')), h('td', { class: 'num' }, rv.score),
      h('td', { style: 'white-space:normal' }, rv.reasons.join(', ')), h('td', {}, rv.createdAt.replace('T', ' ').slice(0, 19)), h('td', {}, rv.reviewer ?? ''), cell));
  }
  main.append(h('section', { class: 'panel' }, r.reviews.length === 0 ? h('div', { class: 'na-box' }, 'Nothing to review.') :
    h('div', { class: 'tbl-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ...['order', 'amount', 'score', 'reasons', 'created', 'reviewer', ''].map((x) => h('th', {}, x)))), tbody))));
}
