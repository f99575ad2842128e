/*
 * app.js - the ringcap web console: plain JavaScript, no framework, no build step, no external
 * requests. Everything on the page is built with DOM calls from the API's JSON (no innerHTML), so
 * nothing the agent recorded (addresses, file names, audit fields) can inject markup; the page
 * runs under the agent's CSP (default-src 'self'): no inline script or style attribute is used.
 *
 * Views (hash routing): #/incidents (status, "Capture now", incident list), #/incidents/ID (one
 * incident), #/audit (audit trail and its verification). The API token is kept in sessionStorage
 * and sent as "Authorization: Bearer TOKEN"; a 401 anywhere signs out with a message.
 */
'use strict';

(() => {
	const API = '/api/v1';
	const TOKEN_KEY = 'ringcap.token';
	const REFRESH_MS = 5000;
	const PAGE = 50;

	const st = {
		view: null,          /* {name, refresh(), cleanup()} */
		seq: 0,              /* bumps at every render: late answers for an old view are dropped */
		status: null,        /* last GET /status */
		downloads: new Map(),/* incident id -> download-url answer */
		lastCapture: null,   /* id of the capture this tab started last */
		capMsg: null,        /* message of the capture form, kept across re-renders */
		timer: null,
	};

	/* ---------- small DOM helpers ---------- */

	const $ = (id) => document.getElementById(id);

	function add(el, ...kids) {
		for (const k of kids) {
			if (k === null || k === undefined || k === false) continue;
			if (Array.isArray(k)) add(el, ...k);
			else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
		}
		return el;
	}

	/* h('div', {class: 'x', onclick: fn, dataset: {...}}, kids...) */
	function h(tag, attrs, ...kids) {
		const el = document.createElement(tag);
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false) continue;
			if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
			else if (k === 'dataset') Object.assign(el.dataset, v);
			else if (k === 'text') el.textContent = v;
			else el.setAttribute(k, v === true ? '' : String(v));
		}
		return add(el, ...kids);
	}

	const SVGNS = 'http://www.w3.org/2000/svg';
	function sv(tag, attrs, ...kids) {
		const el = document.createElementNS(SVGNS, tag);
		for (const [k, v] of Object.entries(attrs || {}))
			if (v !== null && v !== undefined) el.setAttribute(k, String(v));
		return add(el, ...kids);
	}

	function clear(el) {
		while (el.firstChild) el.firstChild.remove();
		return el;
	}

	/* ---------- formatting (fixed en-US and UTC, so every operator reads the same) ---------- */

	const nf = new Intl.NumberFormat('en-US');
	const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
	const fmtInt = (n) => (isNum(n) ? nf.format(Math.round(n)) : '—');

	function fmtBytes(n) {
		if (!isNum(n)) return '—';
		if (n < 1000) return `${n} B`;
		const u = ['kB', 'MB', 'GB', 'TB', 'PB'];
		let v = n / 1000, i = 0;
		while (v >= 999.95 && i < u.length - 1) { v /= 1000; i++; }
		return `${v.toFixed(1)} ${u[i]}`;
	}

	function fmtSi(v, unit) {
		if (!isNum(v)) return '—';
		const u = ['', 'k', 'M', 'G', 'T'];
		let i = 0;
		while (Math.abs(v) >= 1000 && i < u.length - 1) { v /= 1000; i++; }
		const s = i === 0 ? String(Math.round(v)) : v.toPrecision(3);
		return `${s} ${u[i]}${unit}`;
	}
	const fmtBps = (v) => fmtSi(v, 'bit/s');
	const fmtPps = (v) => (isNum(v) ? `${fmtInt(v)} pkt/s` : '—');

	/* RFC 3339 -> ms since the epoch (any number of fraction digits), or NaN. */
	function parseTime(s) {
		if (typeof s !== 'string') return NaN;
		const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/i.exec(s);
		if (!m) return NaN;
		let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
		if (m[7]) t += Number(m[7]) * 1000;
		if (m[8] && m[8].toUpperCase() !== 'Z') {
			const sign = m[8][0] === '-' ? -1 : 1;
			const d = m[8].slice(1).replace(':', '');
			t -= sign * (Number(d.slice(0, 2)) * 60 + Number(d.slice(2))) * 60000;
		}
		return t;
	}

	const pad = (n) => String(n).padStart(2, '0');
	function fmtClock(ms) {
		if (!isNum(ms)) return '—';
		const d = new Date(ms);
		return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
	}
	function fmtDay(ms) {
		if (!isNum(ms)) return '—';
		const d = new Date(ms);
		return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
	}
	const fmtDateTime = (ms) => (isNum(ms) ? `${fmtDay(ms)} ${fmtClock(ms)}` : '—');
	const fmtIsoDateTime = (s) => fmtDateTime(parseTime(s));

	function fmtDuration(s) {
		if (!isNum(s) || s < 0) return '—';
		if (s < 10) return `${s.toFixed(1)} s`;
		if (s < 60) return `${Math.round(s)} s`;
		if (s < 3600) return Math.floor(s % 60) ? `${Math.floor(s / 60)} min ${pad(Math.floor(s % 60))} s` : `${s / 60} min`;
		if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
		return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
	}

	/* "in 14 min", "3 days ago" relative to the browser's clock */
	function fmtRelative(ms) {
		if (!isNum(ms)) return '';
		const d = (ms - Date.now()) / 1000, a = Math.abs(d);
		let s;
		if (a < 60) s = `${Math.round(a)} s`;
		else if (a < 3600) s = `${Math.round(a / 60)} min`;
		else if (a < 172800) s = `${Math.round(a / 3600)} h`;
		else s = `${Math.round(a / 86400)} days`;
		return d >= 0 ? `in ${s}` : `${s} ago`;
	}

	const PROTO = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };
	const protoName = (p) => PROTO[p] || (isNum(p) ? `proto ${p}` : '');

	const THRESH_LABEL = {
		pps: 'Packet rate', mbps: 'Bit rate', syn_pps: 'TCP SYN rate', udp_pps: 'UDP rate',
		icmp_pps: 'ICMP rate', host_pps: 'Per-host packet rate', host_mbps: 'Per-host bit rate',
		manual: 'Manual capture',
	};

	/* The summary's trigger is a threshold name; the metadata's is an object. */
	function triggerOf(x) {
		const t = x && x.trigger;
		if (typeof t === 'string') return { threshold: t };
		return t && typeof t === 'object' ? t : {};
	}

	/* ---------- the API ---------- */

	class ApiError extends Error {
		constructor(status, message, api) {
			super(message);
			this.status = status; /* 0: the network or the agent is unreachable */
			this.api = api;       /* the API's own "error" text, if any */
		}
	}

	const getToken = () => sessionStorage.getItem(TOKEN_KEY);

	async function api(method, path, body) {
		const headers = { Accept: 'application/json' };
		const token = getToken();
		if (token) headers.Authorization = `Bearer ${token}`;
		const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		let r;
		try {
			r = await fetch(API + path, init);
		} catch (e) {
			setConn(false);
			throw new ApiError(0, `Cannot reach the agent at ${location.host}: the network is down or the agent is not running.`);
		}
		setConn(true);
		const text = await r.text().catch(() => '');
		let data = null;
		try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
		if (!r.ok) {
			const msg = data && typeof data.error === 'string' ? data.error : '';
			const err = new ApiError(r.status, msg || `${r.status} ${r.statusText}`.trim(), msg);
			if (r.status === 401) {
				signOut(`The agent refused the token (401${msg ? `: ${msg}` : ''}). Sign in again with a valid API token.`);
				err.handled = true;
			}
			throw err;
		}
		if (data === null || typeof data !== 'object')
			throw new ApiError(r.status, 'The agent answered with something that is not JSON.');
		return data;
	}

	/*
	 * One clear sentence for each error the API can give. what: per-status text for the action
	 * ({404: 'Incident 7 does not exist.'}); the API's own message is added after it.
	 */
	function explain(err, what) {
		const s = err && err.status;
		if (s === undefined) return `Unexpected error in the console: ${err && err.message}`;
		const apiMsg = err.api ? ` The agent said: “${err.api}”.` : '';
		const own = what && what[s];
		if (own) return `${own}${apiMsg}`;
		switch (s) {
		case 0: return `${err.message} The console retries every few seconds.`;
		case 400: return `The agent rejected the request as malformed (400).${apiMsg}`;
		case 401: return `The token was refused (401). Sign in again.${apiMsg}`;
		case 403: return `Forbidden (403): this token or link is not allowed to do that.${apiMsg}`;
		case 404: return `Not found (404).${apiMsg}`;
		case 405: return `The agent does not allow this request (405).${apiMsg}`;
		case 409: return `Not possible yet (409).${apiMsg}`;
		case 410: return `Gone (410): it has expired.${apiMsg}`;
		case 413: return `The request is too large for the agent (413).${apiMsg}`;
		case 416: return `The requested range is not satisfiable (416).${apiMsg}`;
		case 429: return `Too many failed authentications from this address (429): wait, then try again.${apiMsg}`;
		case 503: return `The agent cannot do that right now (503).${apiMsg}`;
		default:
			if (s >= 500) return `The agent failed to answer (${s}).${apiMsg}`;
			return `The request failed (${s}).${apiMsg}`;
		}
	}

	/* ---------- chrome: banner, connection dot, sign-in ---------- */

	function banner(msg, kind) {
		const b = $('banner');
		if (!msg) { b.hidden = true; clear(b); return; }
		clear(b);
		b.className = `banner ${kind || 'error'}`;
		add(b, [h('span', null, msg), h('button', { type: 'button', class: 'btn btn-quiet', 'aria-label': 'dismiss', onclick: () => banner(null) }, '×')]);
		b.hidden = false;
	}

	function setConn(ok) {
		const c = $('conn');
		c.className = `conn ${ok ? 'ok' : 'down'}`;
		c.title = ok ? 'connected to the agent' : 'the agent cannot be reached';
		if (ok && $('banner').dataset.net) { banner(null); delete $('banner').dataset.net; }
		if (!ok) {
			banner(`Cannot reach the agent at ${location.host}: the network is down or the agent is not running. Retrying every ${REFRESH_MS / 1000} s…`);
			$('banner').dataset.net = '1';
		}
	}

	function showSignin(msg) {
		stopView();
		clear($('view'));
		$('nav').hidden = true;
		$('who').hidden = true;
		$('signin').hidden = false;
		$('signin-msg').textContent = msg || '';
		$('signin-msg').className = msg ? 'msg error' : 'msg';
		$('foot').textContent = '';
		$('token').value = '';
		$('token').focus();
	}

	function signOut(msg) {
		sessionStorage.removeItem(TOKEN_KEY);
		st.status = null;
		st.downloads.clear();
		banner(null);
		showSignin(msg);
	}

	async function onSignin(ev) {
		ev.preventDefault();
		const tok = $('token').value.trim();
		if (!tok) return;
		const btn = $('signin-submit');
		btn.disabled = true;
		$('signin-msg').textContent = 'Checking the token…';
		$('signin-msg').className = 'msg';
		sessionStorage.setItem(TOKEN_KEY, tok);
		try {
			st.status = await api('GET', '/status');
			$('signin').hidden = true;
			banner(null);
			route();
		} catch (e) {
			if (!e.handled) {
				sessionStorage.removeItem(TOKEN_KEY);
				$('signin-msg').textContent = explain(e);
				$('signin-msg').className = 'msg error';
			}
		} finally {
			btn.disabled = false;
		}
	}

	/* ---------- routing and refresh ---------- */

	function stopView() {
		if (st.view && st.view.cleanup) st.view.cleanup();
		st.view = null;
		st.seq++;
	}

	function route() {
		if (!getToken()) { showSignin(); return; }
		$('signin').hidden = true;
		$('nav').hidden = false;
		$('who').hidden = false;
		stopView();
		const hash = location.hash || '#/incidents';
		let m;
		let name;
		if ((m = /^#\/incidents\/(\d{1,15})$/.exec(hash))) { name = 'incidents'; viewIncident(Number(m[1])); }
		else if (hash === '#/audit') { name = 'audit'; viewAudit(); }
		else { name = 'incidents'; viewIncidents(); }
		for (const a of document.querySelectorAll('[data-nav]'))
			a.classList.toggle('active', a.dataset.nav === name);
		window.scrollTo(0, 0);
	}

	function tick() {
		if (!getToken() || document.hidden) return;
		if (st.view && st.view.refresh) st.view.refresh();
	}

	/* A render-time guard: true while the view that asked is still the one shown. */
	const alive = (seq) => seq === st.seq;

	function section(title, id, ...kids) {
		return h('section', { class: 'card', id }, title ? h('h2', null, title) : null, ...kids);
	}

	function msgBox(text, kind) {
		return h('p', { class: `msg ${kind || 'error'}`, role: kind === 'ok' ? 'status' : 'alert' }, text);
	}

	function kv(pairs) {
		return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v, cls]) =>
			[h('dt', null, k), h('dd', cls ? { class: cls } : null, v)]));
	}

	function badge(text, kind) {
		return h('span', { class: `badge ${kind || ''}` }, text);
	}

	function footer(s) {
		const f = $('foot');
		if (!s) return;
		const parts = [`ringcap ${s.version || ''}`.trim()];
		if (isNum(s.retention_days)) parts.push(s.retention_days > 0 ? `captures kept ${s.retention_days} days` : 'captures kept forever');
		if (isNum(s.url_ttl_seconds)) parts.push(`download links valid ${fmtDuration(s.url_ttl_seconds)}`);
		parts.push('times in UTC');
		f.textContent = parts.join(' · ');
	}

	/* ---------- #/incidents: status, capture form, list ---------- */

	function renderStatus(box, s, err) {
		clear(box);
		add(box, h('h2', null, 'Agent', h('span', { class: 'updated muted', id: 'status-updated' },
			err ? '' : `updated ${fmtClock(Date.now())}`)));
		if (err) { add(box, msgBox(`Status unavailable: ${explain(err)}`)); if (!s) return; }
		const review = s.mode === 'review';
		const mode = review ? badge('review', 'muted') : s.mode === 'stats-only' ? badge('stats-only', 'warn') : badge(s.mode || '?', 'ok');
		const r = s.rates || {};
		const drops = isNum(s.dropped) || isNum(s.ifdropped)
			? `${fmtInt(s.dropped || 0)}${isNum(s.ifdropped) && s.ifdropped ? ` (+${fmtInt(s.ifdropped)} by the interface)` : ''}`
			: '—';
		const tiles = [
			['Mode', mode, 'mode'],
			['Source', s.source || '—', 'source'],
			['Packets', fmtInt(s.packets), 'packets'],
			['Kernel drops', drops, `drops${s.dropped > 0 ? ' bad' : ''}`],
			['Packet rate', fmtPps(r.pps), 'pps'],
			['Bit rate', fmtBps(r.bps), 'bps'],
			['Incident open', s.incident_open === undefined ? '—' : s.incident_open ? badge('yes', 'alert') : 'no', 'open'],
		];
		add(box, h('div', { class: 'tiles', id: 'status-tiles' }, (review ? tiles.slice(0, 1) : tiles).map(([k, v, cls]) =>
			h('div', { class: `tile ${cls}` }, h('div', { class: 'tk' }, k), h('div', { class: 'tv' }, v)))));
		if (review)
			add(box, h('p', { class: 'muted small' }, 'Review mode: no agent is capturing on this folder, so there are no live counters and no manual captures.'));
		const th = s.thresholds;
		if (th && typeof th === 'object') {
			const items = Object.entries(th).map(([k, v]) => {
				const unit = /mbps$/.test(k) ? 'Mbit/s' : 'pkt/s';
				const val = !isNum(v) || v === 0 ? 'off' : `${fmtInt(v)} ${unit}`;
				const cur = { pps: r.pps, syn_pps: r.syn_pps, udp_pps: r.udp_pps, icmp_pps: r.icmp_pps }[k];
				return h('li', { class: v === 0 ? 'off' : '' }, h('span', { class: 'tk' }, THRESH_LABEL[k] || k), ' ',
					h('b', null, val), isNum(cur) && v ? h('span', { class: 'muted' }, ` · now ${fmtInt(cur)}`) : null);
			});
			add(box, h('div', { class: 'thresholds' }, h('h3', null, 'Thresholds'), h('ul', { class: 'chips' }, items)));
		}
	}

	async function loadStatus(box, seq) {
		try {
			const s = await api('GET', '/status');
			if (!alive(seq)) return;
			st.status = s;
			renderStatus(box, s, null);
			footer(s);
		} catch (e) {
			if (!alive(seq) || e.handled) return;
			renderStatus(box, st.status, e);
		}
	}

	function captureForm(onStarted) {
		const out = h('div', { id: 'capture-msg', 'aria-live': 'polite' });
		if (st.capMsg) out.append(msgBox(st.capMsg.text, st.capMsg.kind));
		const secs = h('input', { id: 'cap-seconds', name: 'seconds', type: 'number', min: 1, max: 3600, step: 1, value: 30, required: true, inputmode: 'numeric' });
		const pkts = h('input', { id: 'cap-packets', name: 'packets', type: 'number', min: 1, max: 1000000, step: 1, value: 10000, required: true, inputmode: 'numeric' });
		const btn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'cap-submit' }, 'Capture now');
		const form = h('form', { class: 'capform', id: 'capture-form', novalidate: true },
			h('label', null, h('span', null, 'Seconds'), secs),
			h('label', null, h('span', null, 'Packets'), pkts),
			btn);
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const seconds = Number(secs.value), packets = Number(pkts.value);
			const bad = !Number.isInteger(seconds) || seconds < 1 || seconds > 3600 ? 'Seconds must be a whole number from 1 to 3600.'
				: !Number.isInteger(packets) || packets < 1 || packets > 1000000 ? 'Packets must be a whole number from 1 to 1,000,000.' : '';
			const show = (text, kind) => { st.capMsg = { text, kind }; clear(out).append(msgBox(text, kind)); };
			if (bad) { show(bad); return; }
			btn.disabled = true;
			show('Starting the capture…', 'info');
			try {
				const r = await api('POST', '/captures', { seconds, packets });
				st.lastCapture = r.id;
				show(`Manual capture ${r.id} started: up to ${fmtInt(r.seconds)} s or ${fmtInt(r.packets)} packets. It is listed below as incident ${r.id}.`, 'ok');
				onStarted(r.id);
			} catch (e) {
				if (e.handled) return;
				show(explain(e, {
					503: 'No agent is capturing on this folder (503): manual captures need a running `ringcap run` on it; this console is a review station.',
					400: 'The agent refused these values (400).',
					403: 'This token may not start captures (403).',
				}));
			} finally {
				btn.disabled = false;
			}
		});
		return h('div', null, h('p', { class: 'muted small' }, 'Record the next packets on the agent\'s interface into a new incident, whichever limit comes first.'), form, out);
	}

	function storageCell(inc) {
		const s = inc.storage || {};
		const exp = parseTime(s.expires_at);
		if (s.state === 'expired') return h('span', { class: 'muted' }, 'expired');
		if (s.state === 'none' || (!s.state && !inc.pcap_packets)) return h('span', { class: 'muted' }, 'no capture');
		if (s.state === 'pending') return h('span', { class: 'muted' }, 'sealing…');
		if (isNum(exp)) return h('span', { title: `${fmtDateTime(exp)} UTC` }, fmtDay(exp), h('span', { class: 'muted small' }, ` (${fmtRelative(exp)})`));
		if (s.state === 'sealed') return 'never';
		return '—';
	}

	function stateBadge(state) {
		return badge(state || '?', state === 'open' ? 'alert' : state === 'resolved' ? 'muted' : '');
	}

	function incidentRow(inc) {
		const t = triggerOf(inc);
		const start = parseTime(inc.started_at), end = parseTime(inc.resolved_at);
		const href = `#/incidents/${inc.id}`;
		const cls = ['row-link'];
		if (inc.id === st.lastCapture) cls.push('new');
		const td = (label, ...kids) => h('td', { 'data-label': label, class: /^(Started|Ended|Duration|Size)$/.test(label) ? 'nw' : null }, h('span', { class: 'cell' }, ...kids));
		const tr = h('tr', { class: cls.join(' '), dataset: { id: inc.id } },
			td('ID', h('a', { href, class: 'idlink' }, `#${inc.id}`)),
			td('Trigger', h('span', { class: 'trig' }, t.threshold || '?'),
				inc.classification && inc.classification !== t.threshold ? h('span', { class: 'muted small' }, ` ${inc.classification}`) : null),
			td('Started', fmtDateTime(start)),
			td('Ended', inc.resolved_at ? fmtDateTime(end) : h('span', { class: 'muted' }, 'ongoing')),
			td('Duration', fmtDuration(inc.duration_s)),
			td('Packets', fmtInt(inc.pcap_packets), inc.cap_reached ? [' ', badge('cap reached', 'warn')] : null),
			td('Size', fmtBytes(inc.pcap_bytes)),
			td('State', stateBadge(inc.state), inc.storage && inc.storage.state ? h('span', { class: 'muted small' }, ` ${inc.storage.state}`) : null),
			td('Capture expires', storageCell(inc)));
		tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) location.hash = href; });
		return tr;
	}

	function incidentTable(list) {
		return h('div', { class: 'tablewrap' }, h('table', { class: 'list stack', id: 'incident-table' },
			h('thead', null, h('tr', null, ['ID', 'Trigger', 'Started (UTC)', 'Ended (UTC)', 'Duration', 'Packets', 'Size', 'State', 'Capture expires'].map((c) => h('th', { scope: 'col' }, c)))),
			h('tbody', null, list.map(incidentRow))));
	}

	function viewIncidents() {
		const seq = st.seq;
		const view = clear($('view'));
		const statusBox = section(null, 'status');
		renderStatus(statusBox, st.status, null);
		const listBody = h('div', { id: 'incidents-body' }, h('p', { class: 'muted' }, 'Loading incidents…'));
		const count = h('span', { class: 'muted small', id: 'incident-count' });
		const more = h('button', { type: 'button', class: 'btn', id: 'incidents-more', hidden: true }, 'Older incidents');
		let items = [], next = null, paged = false, waitFor = null;

		async function loadList(older) {
			const q = older ? `?limit=${PAGE}&before=${next}` : `?limit=${Math.min(200, Math.max(PAGE, paged ? items.length : PAGE))}`;
			try {
				const r = await api('GET', `/incidents${q}`);
				if (!alive(seq)) return;
				const got = Array.isArray(r.incidents) ? r.incidents : [];
				if (older) { items = items.concat(got); paged = true; } else items = got;
				next = r.next_before === undefined ? null : r.next_before;
				clear(listBody).append(items.length ? incidentTable(items)
					: h('p', { class: 'muted empty' }, 'No incidents yet. They appear here when a threshold is crossed or a capture is started.'));
				count.textContent = isNum(r.total) ? ` ${fmtInt(r.total)} in all` : '';
				more.hidden = next === null || next === undefined;
				if (waitFor !== null && items.some((i) => i.id === waitFor)) waitFor = null;
			} catch (e) {
				if (!alive(seq) || e.handled) return;
				clear(listBody).append(msgBox(`The incident list could not be loaded. ${explain(e)}`));
			}
		}
		more.addEventListener('click', () => loadList(true));

		async function afterCapture(id) {
			waitFor = id;
			/* the index row appears once the agent wrote the first metadata: look for it quickly */
			for (let i = 0; i < 15 && waitFor !== null && alive(seq); i++) {
				await loadList(false);
				if (waitFor === null) break;
				await new Promise((res) => setTimeout(res, 700));
			}
		}

		add(view, [
			statusBox,
			section('Capture now', 'capture', captureForm(afterCapture)),
			section(null, 'incidents', h('h2', null, 'Incidents', count), listBody, more),
		]);
		loadStatus(statusBox, seq);
		loadList(false);
		st.view = {
			name: 'incidents',
			refresh: () => { loadStatus(statusBox, seq); loadList(false); },
		};
	}

	/* ---------- #/incidents/ID ---------- */

	/* "nice" axis ticks from 0 to at least max */
	function ticks(max, n) {
		if (!(max > 0)) return [0, 1];
		const raw = max / n, mag = 10 ** Math.floor(Math.log10(raw));
		const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
		const out = [];
		for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
		if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
		return out;
	}

	/* axis labels: 0, 500, 2.5k, 10M */
	function axisLab(v) {
		const u = ['', 'k', 'M', 'G', 'T'];
		let i = 0;
		while (Math.abs(v) >= 1000 && i < u.length - 1) { v /= 1000; i++; }
		return `${parseFloat(v.toPrecision(3))}${u[i]}`;
	}

	/* at most n points: each bucket keeps its largest value so peaks stay visible */
	function downsample(pts, n) {
		if (pts.length <= n) return pts;
		const out = [], k = pts.length / n;
		for (let i = 0; i < n; i++) {
			const a = Math.floor(i * k), b = Math.floor((i + 1) * k);
			let best = pts[a];
			for (let j = a; j < b; j++) if (pts[j].v > best.v) best = pts[j];
			out.push({ t: pts[a].t, v: best.v });
		}
		return out;
	}

	/*
	 * The rates chart: two panels sharing the time axis (packets/s, bits/s), the trigger instant
	 * as a vertical line on both, the threshold as a horizontal line on the panel of its unit.
	 */
	function rateChart(rates, inc, width) {
		const trig = triggerOf(inc);
		const pts = (Array.isArray(rates) ? rates : []).map((r) => ({ t: parseTime(r.t), pps: Number(r.pps), bps: Number(r.bps) }))
			.filter((p) => isNum(p.t)).sort((a, b) => a.t - b.t);
		const tTrig = parseTime(trig.time) || parseTime(inc.started_at);
		const tEnd = parseTime(inc.resolved_at);
		if (!pts.length) return h('p', { class: 'muted' }, 'No rate samples were recorded for this incident.');
		const W = Math.max(280, Math.floor(width)), PH = W < 500 ? 120 : 150;
		const ml = W < 500 ? 50 : 62, mr = 14, mt = 22, gap = 34, mb = 26;
		const H = mt + PH + gap + PH + mb;
		let t0 = pts[0].t, t1 = pts[pts.length - 1].t + 1000;
		for (const t of [tTrig, parseTime(inc.started_at), tEnd]) if (isNum(t)) { t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
		if (t1 - t0 < 2000) t1 = t0 + 2000;
		const x = (t) => ml + ((t - t0) / (t1 - t0)) * (W - ml - mr);
		const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', id: 'rate-chart',
			'aria-label': `Packets per second and bits per second from ${fmtClock(t0)} to ${fmtClock(t1)} UTC` });

		const unitBits = /mbit/i.test(trig.unit || '') || /mbps$/.test(trig.threshold || '');
		const limit = isNum(trig.limit) ? trig.limit : null;
		const panels = [
			{ key: 'pps', title: 'Packets/s', fmt: axisLab, thr: !unitBits ? limit : null, thrText: limit !== null ? `${trig.threshold || 'threshold'} ${fmtInt(limit)} ${trig.unit || 'packets/s'}` : '' },
			{ key: 'bps', title: 'Bits/s', fmt: axisLab, thr: unitBits && limit !== null ? limit * 1e6 : null, thrText: limit !== null ? `${trig.threshold || 'threshold'} ${fmtInt(limit)} ${trig.unit || 'Mbit/s'}` : '' },
		];
		const n = Math.max(2, Math.floor((W - ml - mr) / 2));
		panels.forEach((p, i) => {
			const top = mt + i * (PH + gap), bot = top + PH;
			const series = downsample(pts.map((q) => ({ t: q.t, v: q[p.key] })), n);
			const peak = Math.max(...series.map((q) => q.v).filter(isNum), 0);
			const ys = ticks(Math.max(peak, p.thr || 0) * 1.08 || 1, 4);
			const ymax = ys[ys.length - 1];
			const y = (v) => bot - (v / ymax) * PH;
			const g = sv('g', { class: `panel panel-${p.key}` });
			g.append(sv('text', { x: ml, y: top - 8, class: 'ptitle' }, `${p.title}`,
				sv('tspan', { class: 'pnote', dx: 8 }, `peak ${p.key === 'pps' ? fmtPps(peak) : fmtBps(peak)}`)));
			for (const v of ys) {
				g.append(sv('line', { x1: ml, x2: W - mr, y1: y(v), y2: y(v), class: 'grid' }));
				g.append(sv('text', { x: ml - 6, y: y(v) + 4, class: 'ylab' }, p.fmt(v)));
			}
			/* area + line; each sample covers one second, drawn as a step so bursts read as such */
			let d = '';
			series.forEach((q, j) => {
				const xa = x(q.t), xb = j + 1 < series.length ? x(series[j + 1].t) : x(Math.min(t1, q.t + 1000));
				const yy = y(isNum(q.v) ? q.v : 0);
				d += `${j ? 'L' : 'M'}${xa.toFixed(1)},${yy.toFixed(1)}L${xb.toFixed(1)},${yy.toFixed(1)}`;
			});
			const first = x(series[0].t), last = x(Math.min(t1, series[series.length - 1].t + 1000));
			g.append(sv('path', { d: `${d}L${last.toFixed(1)},${bot}L${first.toFixed(1)},${bot}Z`, class: `area ${p.key}` }));
			g.append(sv('path', { d, class: `line ${p.key}` }));
			if (p.thr !== null && p.thr !== undefined) {
				g.append(sv('line', { x1: ml, x2: W - mr, y1: y(p.thr), y2: y(p.thr), class: 'threshold' }));
				g.append(sv('text', { x: W - mr - 4, y: y(p.thr) - 5, class: 'thrlab' }, `threshold: ${p.thrText}`));
			}
			if (isNum(tTrig)) {
				g.append(sv('line', { x1: x(tTrig), x2: x(tTrig), y1: top, y2: bot, class: 'trigger' }));
				if (i === 0) {
					const right = x(tTrig) > (ml + W - mr) / 2;
					g.append(sv('text', { x: x(tTrig) + (right ? -5 : 5), y: bot - 7, class: 'triglab', 'text-anchor': right ? 'end' : 'start' }, `trigger ${fmtClock(tTrig)}`));
				}
			}
			if (isNum(tEnd)) g.append(sv('line', { x1: x(tEnd), x2: x(tEnd), y1: top, y2: bot, class: 'resolved' }));
			g.append(sv('line', { x1: ml, x2: W - mr, y1: bot, y2: bot, class: 'axis' }));
			svg.append(g);
		});
		/* time axis */
		const span = t1 - t0, want = Math.max(2, Math.floor((W - ml - mr) / 90));
		const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
		const step = steps.find((s) => span / s <= want) || 86400000;
		const yb = H - mb + 16;
		for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
			const xt = x(t);
			const anchor = xt < ml + 24 ? 'start' : xt > W - mr - 24 ? 'end' : 'middle';
			svg.append(sv('text', { x: anchor === 'start' ? Math.max(xt, 2) : anchor === 'end' ? Math.min(xt, W - 2) : xt, y: yb, class: 'xlab', 'text-anchor': anchor }, fmtClock(t)));
		}
		return svg;
	}

	function topTable(title, rows, kind) {
		const list = Array.isArray(rows) ? rows : [];
		const total = list.reduce((a, r) => a + (Number(r.packets) || 0), 0) || 1;
		return h('div', { class: 'top' }, h('h3', null, title),
			list.length ? h('table', { class: 'toptable' },
				h('thead', null, h('tr', null, h('th', { scope: 'col' }, kind === 'port' ? 'Port' : 'Address'), h('th', { scope: 'col', class: 'num' }, 'Packets'), h('th', { scope: 'col', class: 'num' }, 'Bytes'))),
				h('tbody', null, list.map((r) => {
					const bar = h('span', { class: 'bar' });
					bar.style.width = `${Math.max(1, Math.round((100 * (Number(r.packets) || 0)) / total))}%`;
					return h('tr', null,
						h('td', { class: 'addr' }, kind === 'port' ? `${r.port}/${protoName(r.proto)}` : String(r.addr), bar),
						h('td', { class: 'num' }, fmtInt(r.packets)),
						h('td', { class: 'num' }, fmtBytes(r.bytes)));
				})))
				: h('p', { class: 'muted small' }, 'none recorded'));
	}

	function downloadPanel(id, storage) {
		const box = h('div', { id: 'download' });
		const out = h('div', { id: 'download-out', 'aria-live': 'polite' });
		const btn = h('button', { type: 'button', class: 'btn btn-primary', id: 'download-btn' }, 'Download PCAP');
		const s = storage || {};
		let why = '';
		if (s.state === 'expired') why = `The capture expired${s.expires_at ? ` on ${fmtIsoDateTime(s.expires_at)} UTC` : ''} and was deleted by retention; the metadata stays.`;
		else if (s.state === 'none') why = 'This incident has no capture (statistics-only mode or no packets).';
		else if (s.state === 'pending') why = 'The capture is still being written or sealed; the download is possible once it is stored.';
		if (why) { btn.disabled = true; out.append(msgBox(why, 'info')); }

		function showLink(r) {
			clear(out);
			const exp = parseTime(r.expires_at);
			const wget = r.wget || `wget -O ${r.filename || `incident-${id}.pcap`} "${r.url}"`;
			const code = h('code', { id: 'wget-line' }, wget);
			const copyMsg = h('span', { class: 'muted small', 'aria-live': 'polite' });
			const copy = h('button', { type: 'button', class: 'btn', id: 'copy-wget' }, 'Copy');
			copy.addEventListener('click', async () => {
				let ok = false;
				try { await navigator.clipboard.writeText(wget); ok = true; } catch (e) {
					const sel = window.getSelection(), rg = document.createRange();
					rg.selectNodeContents(code); sel.removeAllRanges(); sel.addRange(rg);
					try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
				}
				copyMsg.textContent = ok ? ' copied' : ' select the line and copy it';
			});
			add(out, [
				h('p', { class: 'msg ok', id: 'download-status' }, `Download of ${r.filename || 'the capture'} started. `,
					h('a', { href: r.url, download: r.filename || true, rel: 'noreferrer' }, 'Download again')),
				kv([['Link expires', h('span', { id: 'url-expiry' }, `${fmtDateTime(exp)} UTC`, h('span', { class: 'muted' }, ` (${fmtRelative(exp)})`))],
					['Link id', h('code', null, r.url_id || '—')]]),
				h('p', { class: 'small muted' }, 'The same file from a shell (no token needed: the link is signed and expires):'),
				h('div', { class: 'codeline' }, code, copy, copyMsg),
			]);
		}
		const prev = st.downloads.get(id);
		if (prev && parseTime(prev.expires_at) > Date.now()) showLink(prev);

		btn.addEventListener('click', async () => {
			btn.disabled = true;
			clear(out).append(msgBox('Asking the agent for a signed link…', 'info'));
			try {
				const r = await api('POST', `/incidents/${id}/download-url`, {});
				st.downloads.set(id, r);
				const a = h('a', { href: r.url || r.path, download: r.filename || '', rel: 'noreferrer', hidden: true });
				document.body.append(a);
				a.click();
				a.remove();
				showLink(r);
			} catch (e) {
				if (e.handled) return;
				clear(out).append(msgBox(explain(e, {
					404: `Incident ${id} does not exist (404).`,
					409: `Incident ${id} has no capture to download yet (409): it is still being written or sealed. Try again in a few seconds.`,
					410: `The capture of incident ${id} has expired (410): retention deleted it; the metadata stays.`,
					403: 'This token may not download captures (403).',
				})));
			} finally {
				btn.disabled = false;
			}
		});
		return add(box, [btn, out]);
	}

	function viewIncident(id) {
		const seq = st.seq;
		const view = clear($('view'));
		const head = h('div', { class: 'pagehead' }, h('a', { href: '#/incidents', class: 'back' }, '← Incidents'), h('h1', null, `Incident ${id}`));
		const body = h('div', { id: 'incident-body' }, h('p', { class: 'muted' }, 'Loading…'));
		add(view, [head, body]);
		let chartBox = null, last = null, onResize = null;

		function drawChart() {
			if (!chartBox || !last) return;
			const w = chartBox.clientWidth || 600;
			clear(chartBox).append(rateChart(last.rates, last.incident || {}, w));
		}

		function render(r) {
			last = r;
			const inc = r.incident || {};
			const storage = r.storage || {};
			const t = triggerOf(inc);
			const start = parseTime(inc.started_at), end = parseTime(inc.resolved_at);
			clear(head).append(h('a', { href: '#/incidents', class: 'back' }, '← Incidents'),
				h('h1', null, `Incident ${id} `, stateBadge(inc.state), inc.classification ? [' ', badge(inc.classification, 'class')] : null));

			const sameDay = !isNum(end) || fmtDay(start) === fmtDay(end);
			const summary = h('p', { class: 'summary', id: 'summary' },
				h('span', { class: 'sum-size' }, h('b', null, 'SIZE'), ` ${fmtBytes(inc.pcap_bytes)}`), h('span', { class: 'sep' }, ' · '),
				h('span', { class: 'sum-pkts' }, h('b', null, 'PKTS'), ` ${fmtInt(inc.pcap_packets)}`, inc.cap_reached ? ' (cap reached)' : ''), h('span', { class: 'sep' }, ' · '),
				h('span', { class: 'sum-dur' }, h('b', null, 'DURATION'), ` ${fmtClock(start)} → ${isNum(end) ? (sameDay ? fmtClock(end) : fmtDateTime(end)) : 'ongoing'}`));
			const sub = h('p', { class: 'muted small sub' },
				`${fmtDay(start)} UTC · ${fmtDuration(inc.duration_s)} · source ${inc.source || '—'} · mode ${inc.mode || '—'}`,
				inc.resolve_reason ? ` · ended: ${String(inc.resolve_reason).replace(/_/g, ' ')}` : '');

			const trigCard = section('Trigger', 'trigger', kv([
				['Threshold', t.threshold === 'manual' ? 'manual capture' : `${THRESH_LABEL[t.threshold] || t.threshold || '?'} (${t.threshold || '?'})`],
				isNum(t.limit) ? ['Limit', `${fmtInt(t.limit)} ${t.unit || ''}`] : null,
				isNum(t.value) ? ['Measured', `${fmtInt(t.value)} ${t.unit || ''}`, 'strong'] : null,
				['At', t.time ? `${fmtIsoDateTime(t.time)} UTC` : `${fmtDateTime(start)} UTC`],
				t.busiest_destination ? ['Busiest destination', h('code', null, t.busiest_destination)] : null,
				['Classification', inc.classification || '—'],
				isNum(inc.peak_pps) ? ['Peak', `${fmtPps(inc.peak_pps)} · ${fmtBps(inc.peak_bps)}`] : null,
			]));

			const pre = Number(inc.pre_trigger_packets) || 0, post = Number(inc.incident_packets) || 0;
			const barPre = h('span', { class: 'seg pre' }), barPost = h('span', { class: 'seg post' });
			const tot = pre + post || 1;
			barPre.style.width = `${(100 * pre) / tot}%`;
			barPost.style.width = `${(100 * post) / tot}%`;
			const secCard = section('Sections', 'sections',
				h('div', { class: 'segbar', role: 'img', 'aria-label': `${pre} pre-trigger packets, ${post} incident packets` }, barPre, barPost),
				kv([
					['Pre-trigger packets', h('span', { class: 'dot pre' }, fmtInt(pre)), 'sec-pre'],
					['Incident packets', h('span', { class: 'dot post' }, fmtInt(post)), 'sec-post'],
					['In the capture', `${fmtInt(inc.pcap_packets)} of at most ${fmtInt(inc.max_packets)}${inc.cap_reached ? ' (cap reached)' : ''}`],
					isNum(inc.packets_seen) ? ['Seen during the incident', `${fmtInt(inc.packets_seen)} packets · ${fmtBytes(inc.bytes_seen)}`] : null,
				]),
				h('p', { class: 'muted small' }, 'The capture opens with the packets held in the pre-trigger ring, then goes on with the packets of the incident.'));

			chartBox = h('div', { class: 'chartbox' });
			const chartCard = section('Traffic over the incident', 'chart', chartBox,
				h('p', { class: 'legend small' }, h('span', { class: 'key pps' }, 'packets/s'), h('span', { class: 'key bps' }, 'bits/s'),
					h('span', { class: 'key trig' }, 'trigger'), h('span', { class: 'key thr' }, 'threshold'), h('span', { class: 'key res' }, 'end')));

			const topCard = section('Top talkers', 'top', h('div', { class: 'tops' },
				topTable('Sources', inc.top_sources, 'addr'),
				topTable('Destinations', inc.top_destinations, 'addr'),
				topTable('Source ports', inc.top_source_ports, 'port'),
				topTable('Destination ports', inc.top_destination_ports, 'port')));

			const exp = parseTime(storage.expires_at);
			const ex = storage.export;
			let exportText = 'not exported';
			if (ex && typeof ex === 'object')
				exportText = Object.entries(ex).filter(([, v]) => v !== null && typeof v !== 'object').map(([k, v]) => `${k}: ${v}`).join(' · ') || 'yes';
			else if (ex) exportText = String(ex);
			const storeCard = section('Storage', 'storage', kv([
				['State', storage.state || '—'],
				['Encrypted', storage.encrypted ? badge('yes (AES-256-GCM)', 'ok') : storage.state === 'sealed' ? badge('no', 'alert') : 'no'],
				storage.key_id ? ['Key id', h('code', null, storage.key_id)] : null,
				storage.file ? ['File', h('code', null, storage.file)] : null,
				storage.format ? ['Format', storage.format] : null,
				isNum(storage.sealed_bytes) ? ['Stored size', `${fmtBytes(storage.sealed_bytes)} sealed · ${fmtBytes(storage.plain_bytes)} plain`] : null,
				storage.sha256 ? ['SHA-256', h('code', { class: 'hash' }, storage.sha256)] : null,
				storage.sealed_at ? ['Sealed at', `${fmtIsoDateTime(storage.sealed_at)} UTC`] : null,
				['Retention', isNum(storage.retention_days) ? (storage.retention_days > 0 ? `${storage.retention_days} days after the incident ended` : 'kept forever') : '—'],
				storage.deleted_at ? ['Deleted', `${fmtIsoDateTime(storage.deleted_at)} UTC`] : null,
				['Expires', storage.state === 'expired' ? 'expired' : isNum(exp) ? h('span', { id: 'expires' }, `${fmtDateTime(exp)} UTC`, h('span', { class: 'muted' }, ` (${fmtRelative(exp)})`)) : 'never'],
				['Export', exportText],
			]));

			const dlCard = section('Capture file', 'download-card', downloadPanel(id, storage));

			clear(body);
			add(body, [
				h('div', { class: 'card summarycard' }, summary, sub),
				h('div', { class: 'grid2' }, trigCard, secCard),
				chartCard,
				topCard,
				h('div', { class: 'grid2' }, storeCard, dlCard),
			]);
			drawChart();
		}

		async function load(first) {
			try {
				const r = await api('GET', `/incidents/${id}`);
				if (!alive(seq)) return;
				/* an open incident changes: redraw; a resolved one only once */
				if (first || !last || (last.incident && last.incident.state === 'open') || JSON.stringify(r.storage) !== JSON.stringify(last.storage))
					render(r);
			} catch (e) {
				if (!alive(seq) || e.handled) return;
				if (!first && last && e.status === 0) return; /* keep the page; the banner says the agent is unreachable */
				clear(body).append(msgBox(explain(e, {
					404: `Incident ${id} does not exist (404).`,
					410: `Incident ${id} is gone (410).`,
				})), h('p', null, h('a', { href: '#/incidents' }, 'Back to the incident list')));
			}
		}
		let timer = null;
		onResize = () => { clearTimeout(timer); timer = setTimeout(drawChart, 150); };
		window.addEventListener('resize', onResize);
		load(true);
		st.view = {
			name: 'incident',
			refresh: () => load(false),
			cleanup: () => window.removeEventListener('resize', onResize),
		};
	}

	/* ---------- #/audit ---------- */

	const AUDIT_SKIP = new Set(['seq', 'time', 'event', 'actor', 'client', 'prev_hash', 'hash']);

	function auditRow(rec) {
		const details = Object.entries(rec).filter(([k]) => !AUDIT_SKIP.has(k)).map(([k, v]) =>
			h('span', { class: 'kvp' }, h('span', { class: 'muted' }, `${k}=`), v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)));
		const td = (label, ...kids) => h('td', { 'data-label': label, class: label === 'Time (UTC)' ? 'nw' : null }, h('span', { class: 'cell' }, ...kids));
		return h('tr', { dataset: { seq: rec.seq } },
			td('Seq', String(rec.seq)),
			td('Time (UTC)', fmtIsoDateTime(rec.time)),
			td('Event', h('span', { class: `ev ev-${String(rec.event).replace(/[^a-z_]/gi, '')}` }, String(rec.event))),
			td('Actor', rec.actor === null || rec.actor === undefined ? h('span', { class: 'muted' }, '—') : String(rec.actor)),
			td('Client', rec.client ? String(rec.client) : h('span', { class: 'muted' }, '—')),
			td('Details', h('span', { class: 'details' }, details)),
			td('Hash', h('code', { title: String(rec.hash || '') }, String(rec.hash || '').slice(0, 12))));
	}

	function viewAudit() {
		const seq = st.seq;
		const view = clear($('view'));
		const verifyBox = section('Verification', 'audit-verify', h('p', { class: 'muted' }, 'Verifying the trail…'));
		const body = h('div', { id: 'audit-body' }, h('p', { class: 'muted' }, 'Loading…'));
		const count = h('span', { class: 'muted small' });
		const more = h('button', { type: 'button', class: 'btn', id: 'audit-more', hidden: true }, 'Older records');
		const again = h('button', { type: 'button', class: 'btn', id: 'audit-reverify' }, 'Verify again');
		let recs = [], next = null;

		async function verify() {
			again.disabled = true;
			try {
				const v = await api('GET', '/audit/verify');
				if (!alive(seq)) return;
				clear(verifyBox).append(h('h2', null, 'Verification'),
					h('p', { class: `verdict ${v.ok ? 'ok' : 'bad'}`, id: 'verify-result' }, v.ok
						? '✔ The audit trail verifies: every record is chained and the signed checkpoints match.'
						: '✘ The audit trail does NOT verify: it was altered or damaged. Read the report below.'),
					h('pre', { class: 'report', id: 'verify-report' }, String(v.report || '')), again);
			} catch (e) {
				if (!alive(seq) || e.handled) return;
				clear(verifyBox).append(h('h2', null, 'Verification'), msgBox(`The trail could not be verified. ${explain(e)}`), again);
			} finally {
				again.disabled = false;
			}
		}
		again.addEventListener('click', verify);

		async function load(older) {
			try {
				const r = await api('GET', `/audit?limit=100${older && next !== null ? `&before=${next}` : ''}`);
				if (!alive(seq)) return;
				const got = Array.isArray(r.records) ? r.records : [];
				recs = older ? recs.concat(got) : got;
				next = r.next_before === undefined ? null : r.next_before;
				count.textContent = isNum(r.total) ? ` ${fmtInt(r.total)} records` : '';
				clear(body).append(recs.length ? h('div', { class: 'tablewrap' }, h('table', { class: 'list stack audit', id: 'audit-table' },
					h('thead', null, h('tr', null, ['Seq', 'Time (UTC)', 'Event', 'Actor', 'Client', 'Details', 'Hash'].map((c) => h('th', { scope: 'col' }, c)))),
					h('tbody', null, recs.map(auditRow)))) : h('p', { class: 'muted empty' }, 'The audit trail is empty.'));
				more.hidden = next === null;
			} catch (e) {
				if (!alive(seq) || e.handled) return;
				clear(body).append(msgBox(`The audit trail could not be loaded. ${explain(e)}`));
			}
		}
		more.addEventListener('click', () => load(true));

		add(view, [
			h('div', { class: 'pagehead' }, h('h1', null, 'Audit trail')),
			verifyBox,
			section(null, 'audit', h('h2', null, 'Records, newest first', count), body, more),
		]);
		verify();
		load(false);
		st.view = { name: 'audit', refresh: null };
	}

	/* ---------- start ---------- */

	function start() {
		$('signin-form').addEventListener('submit', onSignin);
		$('signout').addEventListener('click', () => signOut('Signed out.'));
		window.addEventListener('hashchange', route);
		document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
		st.timer = setInterval(tick, REFRESH_MS);
		route();
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
