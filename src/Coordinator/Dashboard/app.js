// PrivateHealth coordinator dashboard: reads the job API with the bearer token the person enters and draws what its
// role may see. No framework, no build step, nothing from another origin; every value goes into the page as text.
'use strict';

(function () {
  const TOKEN_KEY = 'privatehealth.dashboard.token';
  const REFRESH_MS = 5000;
  const MAX_TRAINING_JOBS = 4;
  const MAX_JOB_DETAILS = 20;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  let token = null;
  let claims = null;
  let timer = null;
  let generation = 0;

  // ------------------------------------------------------------------ small DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.setAttribute('class', v);
      else if (k === 'text') node.textContent = v;
      else if (k === 'dataset') Object.entries(v).forEach(([dk, dv]) => { node.dataset[dk] = String(dv); });
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function table(caption, headers, rows, attrs) {
    return el('div', { class: 'table-wrap' },
      el('table', attrs,
        el('caption', null, caption),
        el('thead', null, el('tr', null, headers.map(h => el('th', { scope: 'col' }, h)))),
        el('tbody', null, rows)));
  }

  function empty(text) {
    return el('p', { class: 'empty' }, text);
  }

  function badge(state) {
    return el('span', { class: 'badge state-' + String(state).replace(/[^a-z-]/g, '') }, state);
  }

  // ------------------------------------------------------------------ formatting

  const numberFormat = new Intl.NumberFormat('en-US');

  function fmtNumber(n) {
    return n === null || n === undefined ? '—' : numberFormat.format(n);
  }

  function fmtDate(s) {
    if (!s) return '—';
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (u === 0 ? String(v) : v.toFixed(1)) + ' ' + units[u];
  }

  function fmtEpsilon(x) {
    return x === null || x === undefined ? '—' : Number(x).toFixed(2);
  }

  // wei (decimal string) → "1.234567 ETH", exactly (BigInt), with 6 decimals
  function fmtWei(wei) {
    if (wei === null || wei === undefined || wei === '') return '—';
    let v;
    try { v = BigInt(wei); } catch (e) { return String(wei) + ' wei'; }
    const unit = 10n ** 18n;
    const whole = v / unit;
    const frac = (v % unit) * 1000000n / unit;
    return whole.toString() + '.' + frac.toString().padStart(6, '0') + ' ETH';
  }

  function weiCell(wei) {
    return el('td', { class: 'num', title: wei ? wei + ' wei' : null }, fmtWei(wei));
  }

  function shortHash(h) {
    return h && h.length > 12 ? h.slice(0, 6) + '…' + h.slice(-4) : (h || '');
  }

  // ------------------------------------------------------------------ token

  function decodeClaims(jwt) {
    const parts = jwt.split('.');
    if (parts.length !== 3) throw new Error('This is not a JWT (it should have three dot-separated parts).');
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - b64.length % 4) % 4);
    const bytes = Uint8Array.from(atob(padded), c => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return { sub: String(payload.sub || ''), role: String(payload.role || ''), exp: payload.exp };
  }

  function takeFragmentToken() {
    const hash = window.location.hash || '';
    if (!hash.startsWith('#token=')) return;
    const value = decodeURIComponent(hash.slice('#token='.length)).trim();
    // the fragment is read once and removed, so it is neither kept in the history nor shown in the address bar
    history.replaceState(null, '', window.location.pathname + window.location.search);
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
  }

  function setToken(value) {
    const trimmed = (value || '').trim().replace(/^Bearer\s+/i, '');
    if (!trimmed) {
      forgetToken();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, trimmed);
    start();
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    claims = null;
    stop();
    clearErrors();
    document.getElementById('who').textContent = 'Not signed in';
    document.getElementById('refresh').textContent = '';
    showSections([]);
    const note = document.getElementById('empty-role');
    note.textContent = 'Enter a bearer token to see the coordinator\'s jobs.';
    note.hidden = false;
  }

  // ------------------------------------------------------------------ errors

  const errors = new Map();

  function setError(key, message) {
    if (message) errors.set(key, message); else errors.delete(key);
    const box = document.getElementById('errors');
    box.replaceChildren();
    if (errors.size === 0) return;
    box.append(el('h2', null, 'Problems'), el('ul', null, [...errors.values()].map(m => el('li', null, m))));
  }

  function clearErrors() {
    errors.clear();
    setError('', null);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path) {
    let response;
    try {
      response = await fetch(path, {
        headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new ApiError(0, 'The coordinator cannot be reached (' + e.message + ').');
    }
    if (response.ok) return response.json();
    let title = response.statusText || 'Error';
    let detail = '';
    try {
      const problem = await response.json();
      if (problem.title) title = problem.title;
      if (problem.detail) detail = problem.detail;
    } catch (e) { /* not a problem body */ }
    let message = title + ' (' + response.status + ')' + (detail ? ': ' + detail : '');
    if (response.status === 401) message += ' Enter a new token.';
    throw new ApiError(response.status, message);
  }

  // ------------------------------------------------------------------ sections

  const SECTIONS = ['jobs', 'training', 'cohorts', 'custodians', 'settlements', 'earnings'];

  function sectionsFor(role) {
    switch (role) {
      case 'operator': return SECTIONS;
      case 'researcher': return ['jobs', 'training', 'cohorts', 'settlements'];
      case 'participant': return ['earnings'];
      default: return [];
    }
  }

  function showSections(visible) {
    for (const id of SECTIONS) {
      document.getElementById(id).hidden = !visible.includes(id);
      body(id).replaceChildren(); // nothing seen with a previous token stays on the page
    }
    delete document.body.dataset.loaded;
  }

  function body(id) {
    return document.getElementById(id).querySelector('.body');
  }

  function renderJobs(jobs) {
    const target = body('jobs');
    if (jobs.length === 0) {
      target.replaceChildren(empty(claims.role === 'operator' ? 'No jobs yet.' : 'You have no jobs yet. Quote and submit one through the job API.'));
      return;
    }
    const rows = jobs.map(j => el('tr', { dataset: { jobId: j.jobId, state: j.state, kind: j.kind } },
      el('th', { scope: 'row' }, el('code', null, j.jobId)),
      el('td', null, j.kind),
      el('td', null, badge(j.state)),
      el('td', null, j.cohortId || '—'),
      claims.role === 'operator' ? el('td', null, j.researcherId || 'operator') : null,
      el('td', { class: 'num' }, j.rounds ? (j.currentRound + ' / ' + j.rounds) : '—'),
      el('td', null, fmtDate(j.createdAt)),
      el('td', null, fmtDate(j.updatedAt)),
      el('td', { class: 'message' }, j.message || '')));
    const headers = ['Job', 'Kind', 'State', 'Cohort'];
    if (claims.role === 'operator') headers.push('Researcher');
    headers.push('Rounds', 'Created', 'Updated', 'Message');
    const counts = {};
    jobs.forEach(j => { counts[j.state] = (counts[j.state] || 0) + 1; });
    const summary = Object.entries(counts).map(([s, n]) => n + ' ' + s).join(', ');
    target.replaceChildren(
      el('p', { class: 'summary' }, jobs.length + (jobs.length === 1 ? ' job: ' : ' jobs: ') + summary),
      table((claims.role === 'operator' ? 'All jobs' : 'Your jobs') + ', newest first', headers, rows, { id: 'jobs-table' }));
  }

  // A line chart as inline SVG: one circle per reported point; "not reported" when there is none.
  function chart(metric, title, points, format, options) {
    const reported = points.filter(p => p.y !== null && p.y !== undefined && isFinite(p.y));
    const figure = el('figure', { class: 'chart', dataset: { metric: metric } });
    const captionId = 'cap-' + metric + '-' + Math.random().toString(36).slice(2, 8);
    if (reported.length === 0) {
      figure.append(el('figcaption', { id: captionId }, title), el('p', { class: 'not-reported' }, 'not reported'));
      return figure;
    }
    const W = 320, H = 170, L = 66, R = 14, T = 12, B = 30;
    const xs = points.map(p => p.x);
    const xMin = Math.min(...xs), xMax = Math.max(...xs);
    let yMin = options && options.min !== undefined ? options.min : Math.min(...reported.map(p => p.y));
    let yMax = options && options.max !== undefined ? options.max : Math.max(...reported.map(p => p.y));
    if (yMax === yMin) { yMax = yMin + (yMin === 0 ? 1 : Math.abs(yMin) * 0.1); }
    const sx = x => xMax === xMin ? L + (W - L - R) / 2 : L + (x - xMin) * (W - L - R) / (xMax - xMin);
    const sy = y => T + (yMax - y) * (H - T - B) / (yMax - yMin);
    const line = reported.map(p => sx(p.x).toFixed(1) + ',' + sy(p.y).toFixed(1)).join(' ');
    const summary = title + ': ' + reported.map(p => 'round ' + p.x + ' ' + format(p.y)).join('; ');
    const graphic = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': captionId, class: 'plot', dataset: { points: reported.length } },
      svg('title', null, summary),
      svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
      svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
      svg('line', { x1: L, y1: T, x2: W - R, y2: T, class: 'grid' }),
      svg('text', { x: L - 6, y: T + 4, class: 'tick', 'text-anchor': 'end' }, format(yMax)),
      svg('text', { x: L - 6, y: H - B + 4, class: 'tick', 'text-anchor': 'end' }, format(yMin)),
      svg('text', { x: sx(xMin), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, String(xMin)),
      xMax !== xMin ? svg('text', { x: sx(xMax), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, String(xMax)) : null,
      svg('text', { x: (L + W - R) / 2, y: H - 2, class: 'label', 'text-anchor': 'middle' }, 'round'),
      reported.length > 1 ? svg('polyline', { points: line, class: 'line' }) : null,
      reported.map(p => svg('circle', { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3.5, class: 'point', dataset: { round: p.x, value: p.y } },
        svg('title', null, 'Round ' + p.x + ': ' + format(p.y)))));
    const last = reported[reported.length - 1];
    figure.append(el('figcaption', { id: captionId }, title, el('span', { class: 'latest' }, ' — last: ' + format(last.y))), graphic);
    return figure;
  }

  function renderTraining(details) {
    const target = body('training');
    if (details.length === 0) {
      target.replaceChildren(empty('No training jobs yet.'));
      return;
    }
    const blocks = details.map(job => {
      // plot completed rounds; round numbers are shown from 1
      const done = job.history.filter(r => r.state === 'completed');
      const pts = f => done.map(r => ({ x: r.round + 1, y: f(r) }));
      const pct = v => (v * 100).toFixed(1) + ' %';
      const num = v => Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
      const charts = el('div', { class: 'charts' },
        chart('loss', 'Loss', pts(r => r.loss), num),
        chart('accuracy', 'Accuracy', pts(r => r.accuracy), pct, { min: 0, max: 1 }),
        chart('received', 'Updates received', pts(r => r.received), v => String(Math.round(v)), { min: 0 }),
        chart('bytes', 'Bytes uploaded', pts(r => r.bytes), fmtBytes, { min: 0 }));
      const rows = job.history.map(r => el('tr', { dataset: { round: r.round + 1, state: r.state } },
        el('th', { scope: 'row' }, String(r.round + 1)),
        el('td', null, badge(r.state)),
        el('td', { class: 'num' }, r.received + ' / ' + r.selected),
        el('td', { class: 'num' }, fmtBytes(r.bytes)),
        el('td', { class: 'num' }, r.loss === null || r.loss === undefined ? 'not reported' : num(r.loss)),
        el('td', { class: 'num' }, r.accuracy === null || r.accuracy === undefined ? 'not reported' : pct(r.accuracy)),
        el('td', { class: 'message' }, r.message || '')));
      const spec = job.spec || {};
      return el('article', { class: 'training-job', dataset: { jobId: job.jobId, completedRounds: done.length } },
        el('h3', null, el('code', null, job.jobId), ' ', badge(job.state)),
        el('p', { class: 'summary' }, done.length + ' of ' + job.rounds + ' rounds completed · model ' + (spec.model || '?') +
          ' · strategy ' + (spec.strategy || '?') + ' · cohort ' + (job.cohortId || '—') + (job.message ? ' · ' + job.message : '')),
        done.length === 0 ? empty('No completed round yet.') : charts,
        job.history.length === 0 ? null : el('details', null, el('summary', null, 'Rounds table'),
          table('Rounds of ' + job.jobId, ['Round', 'State', 'Received / selected', 'Bytes', 'Loss', 'Accuracy', 'Message'], rows, { class: 'rounds-table' })));
    });
    target.replaceChildren(...blocks);
  }

  function renderCohorts(cohorts) {
    const target = body('cohorts');
    if (cohorts.length === 0) {
      target.replaceChildren(empty('No cohorts yet.'));
      return;
    }
    const rows = cohorts.map(c => {
      const total = c.schema && typeof c.schema.epsilon === 'number' ? c.schema.epsilon : null;
      const share = total ? Math.max(0, Math.min(1, c.epsilonRemaining / total)) : null;
      return el('tr', { dataset: { cohortId: c.cohortId } },
        el('th', { scope: 'row' }, c.cohortId),
        el('td', null, badge(c.state)),
        el('td', { class: 'num noisy-size' }, fmtNumber(c.noisySize)),
        el('td', { class: 'num epsilon-remaining' }, fmtEpsilon(c.epsilonRemaining) + (total ? ' of ' + fmtEpsilon(total) : '')),
        el('td', null, share === null ? '—' : budgetBar(share)),
        el('td', { class: 'num' }, c.deltaRemaining.toExponential(1)));
    });
    target.replaceChildren(table('Cohorts: noisy sizes (rounded down to a multiple of 10) and remaining privacy budget',
      ['Cohort', 'State', 'Noisy size', 'ε remaining', 'Budget left', 'δ remaining'], rows, { id: 'cohorts-table' }));
  }

  function budgetBar(share) {
    const pct = Math.round(share * 100);
    return svg('svg', { viewBox: '0 0 100 10', class: 'budget', role: 'img', 'aria-label': pct + ' % of ε left' },
      svg('rect', { x: 0, y: 0, width: 100, height: 10, class: 'budget-bg' }),
      svg('rect', { x: 0, y: 0, width: pct, height: 10, class: share < 0.2 ? 'budget-low' : 'budget-fg' }));
  }

  function renderCustodians(c) {
    const target = body('custodians');
    const summary = el('p', { class: 'summary', id: 'custodians-summary' },
      c.online + ' of ' + c.registered + ' custodians online');
    if (c.custodians.length === 0) {
      target.replaceChildren(summary, empty('No custodian has registered yet.'));
      return;
    }
    const rows = c.custodians.map(x => el('tr', { dataset: { party: x.party, online: x.online } },
      el('th', { scope: 'row' }, String(x.party)),
      el('td', null, x.custodianId),
      el('td', null, el('span', { class: 'presence ' + (x.online ? 'online' : 'offline') }, x.online ? 'online' : 'offline')),
      el('td', null, fmtDate(x.registeredAt))));
    target.replaceChildren(summary, table('Registered custodians', ['Party', 'Custodian', 'Status', 'Registered'], rows, { id: 'custodians-table' }));
  }

  function stepsCell(steps) {
    if (!steps || steps.length === 0) return el('td', null, '—');
    return el('td', null, el('ol', { class: 'steps' }, steps.map(s => el('li', null,
      el('span', { class: 'step' }, s.name),
      s.transaction ? [' ', el('code', { title: s.transaction }, shortHash(s.transaction))] : null))));
  }

  function settlementRows(items) {
    return items.map(({ jobId, kind, jobState, settlement: s }) => el('tr', { dataset: { jobId: jobId, status: s.status } },
      el('th', { scope: 'row' }, el('code', null, jobId)),
      el('td', null, kind),
      el('td', null, badge(jobState)),
      el('td', null, badge(s.status)),
      el('td', { class: 'num' }, s.priceMicros === null || s.priceMicros === undefined ? '—' : fmtNumber(s.priceMicros)),
      weiCell(s.payout && s.payout.escrowed),
      weiCell(s.payout && s.payout.operatorFee),
      weiCell(s.payout && s.payout.totalPayout),
      el('td', null, s.payout ? s.payout.contributors + ' paid' + (s.payout.unpaid ? ', ' + s.payout.unpaid + ' without payout address' : '') : '—'),
      stepsCell(s.steps)));
  }

  const SETTLEMENT_HEADERS = ['Job', 'Kind', 'Job state', 'Settlement', 'Price (micro-units)', 'Escrowed', 'Fee', 'Paid out', 'Contributors', 'Steps (transaction)'];

  function renderSettlements(items, enabled, caption) {
    const target = body('settlements');
    const parts = [];
    if (!enabled) {
      parts.push(el('p', { class: 'notice', id: 'settlement-off' }, 'Settlement off: this coordinator runs paid jobs without payment on chain (Coordinator:Chain:Enabled is false).'));
    }
    if (items.length === 0) {
      parts.push(empty('No paid jobs yet.'));
    } else {
      parts.push(table(caption, SETTLEMENT_HEADERS, settlementRows(items), { id: 'settlements-table' }));
    }
    target.replaceChildren(...parts);
  }

  // operators: per-participant earnings summed over the payouts of every settled job
  function renderEarningsFromSettlements(settlements) {
    const target = body('earnings');
    const byParticipant = new Map();
    for (const s of settlements.jobs) {
      const payout = s.settlement.payout;
      if (!payout || !payout.shares) continue;
      for (const share of payout.shares) {
        const e = byParticipant.get(share.participantId) || { address: share.address, total: 0n, jobs: 0 };
        e.total += BigInt(share.amount);
        e.jobs += 1;
        byParticipant.set(share.participantId, e);
      }
    }
    if (byParticipant.size === 0) {
      target.replaceChildren(empty(settlements.enabled ? 'No payouts yet: earnings appear once a paid job is finalized.' : 'Settlement off: nobody earns anything on chain.'));
      return;
    }
    const rows = [...byParticipant.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([id, e]) =>
      el('tr', { dataset: { participantId: id } },
        el('th', { scope: 'row' }, id),
        el('td', null, el('code', { title: e.address }, shortHash(e.address))),
        el('td', { class: 'num' }, String(e.jobs)),
        weiCell(e.total.toString())));
    target.replaceChildren(table('Earnings per participant (all finalized payouts)', ['Participant', 'Payout address', 'Jobs', 'Earned'], rows, { id: 'earnings-table' }));
  }

  // participants: their own earnings only
  function renderOwnEarnings(e) {
    const target = body('earnings');
    const facts = el('dl', { class: 'facts', id: 'own-earnings', dataset: { participantId: e.participantId } },
      el('dt', null, 'Participant'), el('dd', null, e.participantId),
      el('dt', null, 'Payout address'), el('dd', null, e.payoutAddress ? el('code', null, e.payoutAddress) : 'none registered (register one when you enroll to be paid)'),
      el('dt', null, 'Earned'), el('dd', { title: e.total + ' wei' }, fmtWei(e.total)),
      el('dt', null, 'Not yet claimed'), el('dd', { title: e.unclaimed + ' wei' }, fmtWei(e.unclaimed)));
    const parts = [facts];
    if (!e.settlementEnabled) {
      parts.push(el('p', { class: 'notice' }, 'Settlement off: this coordinator pays nothing on chain.'));
    } else if (e.earnings.length === 0) {
      parts.push(empty('No earnings yet: a payout appears here once a job you contributed to is finalized.'));
    } else {
      const rows = e.earnings.map(x => el('tr', { dataset: { jobId: x.jobId } },
        el('th', { scope: 'row' }, el('code', null, x.jobId)),
        weiCell(x.amount),
        el('td', null, x.claimed ? 'claimed' : 'not claimed'),
        el('td', null, el('code', { title: x.root }, shortHash(x.root))),
        el('td', null, el('code', { title: x.distributor }, shortHash(x.distributor)), ' (chain ' + x.chainId + ')')));
      parts.push(table('Your payouts', ['Job', 'Amount', 'Claim', 'Payout root', 'Distributor'], rows, { id: 'own-earnings-table' }));
    }
    target.replaceChildren(...parts);
  }

  // ------------------------------------------------------------------ refresh

  async function section(key, ids, work) {
    try {
      await work();
      setError(key, null);
      return true;
    } catch (e) {
      setError(key, key + ': ' + (e instanceof ApiError ? e.message : 'unexpected error (' + e.message + ')'));
      for (const id of ids) {
        if (body(id).childElementCount === 0) body(id).replaceChildren(empty('Not available: see the problem above.'));
      }
      if (e instanceof ApiError && e.status === 401) stop();
      return false;
    }
  }

  async function refresh() {
    const mine = ++generation;
    const role = claims.role;
    const tasks = [];
    if (role === 'operator' || role === 'researcher') {
      tasks.push(section('Jobs', ['jobs', 'training', 'settlements'], async () => {
        const jobs = await api('/api/jobs');
        if (mine !== generation) return;
        renderJobs(jobs);
        const training = jobs.filter(j => j.kind === 'training').slice(0, MAX_TRAINING_JOBS);
        const details = await Promise.all(training.map(j => api('/api/jobs/' + encodeURIComponent(j.jobId))));
        if (mine !== generation) return;
        renderTraining(details);
        if (role === 'researcher') {
          // a researcher's settlements: the settlement section of each of its paid jobs
          const queries = jobs.filter(j => j.kind === 'query' && j.paid).slice(0, MAX_JOB_DETAILS);
          const queryDetails = await Promise.all(queries.map(j => api('/api/jobs/' + encodeURIComponent(j.jobId))));
          if (mine !== generation) return;
          const items = [...queryDetails.map(d => ({ jobId: d.jobId, kind: 'query', jobState: d.state, settlement: d.settlement })),
            ...details.filter(d => d.settlement && d.settlement.paid).map(d => ({ jobId: d.jobId, kind: 'training', jobState: d.state, settlement: d.settlement }))]
            .filter(x => x.settlement);
          const enabled = items.length === 0 ? true : items.some(x => x.settlement.enabled);
          renderSettlements(items, enabled, 'Settlements of your paid jobs');
        }
      }));
      tasks.push(section('Cohorts', ['cohorts'], async () => {
        const cohorts = await api('/api/cohorts');
        if (mine === generation) renderCohorts(cohorts);
      }));
    }
    if (role === 'operator') {
      tasks.push(section('Custodians', ['custodians'], async () => {
        const c = await api('/api/custodians');
        if (mine === generation) renderCustodians(c);
      }));
      tasks.push(section('Settlements', ['settlements', 'earnings'], async () => {
        const s = await api('/api/settlements');
        if (mine !== generation) return;
        renderSettlements(s.jobs, s.enabled, 'Settlements of paid jobs, latest activity first');
        renderEarningsFromSettlements(s);
      }));
    }
    if (role === 'participant') {
      tasks.push(section('Earnings', ['earnings'], async () => {
        const e = await api('/api/participants/' + encodeURIComponent(claims.sub) + '/earnings');
        if (mine === generation) renderOwnEarnings(e);
      }));
    }
    await Promise.all(tasks);
    if (mine !== generation || !token) return;
    document.body.dataset.loaded = 'true';
    document.getElementById('refresh').textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB') + ' · refreshes every ' + (REFRESH_MS / 1000) + ' s';
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    generation++;
  }

  function start() {
    stop();
    clearErrors();
    token = sessionStorage.getItem(TOKEN_KEY);
    const note = document.getElementById('empty-role');
    if (!token) {
      forgetToken();
      return;
    }
    try {
      claims = decodeClaims(token);
    } catch (e) {
      setError('Token', 'Token: ' + e.message);
      claims = null;
      showSections([]);
      return;
    }
    const who = document.getElementById('who');
    who.textContent = 'Signed in as ' + (claims.sub || '?') + ' (' + (claims.role || 'no role') + ')';
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      setError('Token', 'Token: it expired at ' + fmtDate(new Date(claims.exp * 1000).toISOString()) + '. Enter a new token.');
    }
    const visible = sectionsFor(claims.role);
    showSections(visible);
    if (visible.length === 0) {
      note.textContent = 'The ' + (claims.role || 'unknown') + ' role has nothing to show on this dashboard.';
      note.hidden = false;
      return;
    }
    note.hidden = true;
    document.body.dataset.role = claims.role;
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    takeFragmentToken();
    document.getElementById('token-form').addEventListener('submit', ev => {
      ev.preventDefault();
      const input = document.getElementById('token-input');
      setToken(input.value);
      input.value = '';
    });
    document.getElementById('token-forget').addEventListener('click', forgetToken);
    start();
  });
})();
