/*
 * console.test.mjs - the web console in a real browser: Debian's chromium driven by playwright-core,
 * against a running ringcap agent on loopback. Run by tests/e2e/console.sh, which sets up the
 * agent and passes everything through the environment:
 *   PHASE     "live" (an agent capturing, with incident 1 from a SYN flood) or "review"
 *             (`ringcap serve' with no agent: status in review mode, manual captures refused)
 *   BASE      http://127.0.0.1:PORT of the agent's HTTP server
 *   TOKEN     the API token (DIR/admin.token)
 *   WORK      where screenshots and the downloaded file go
 *   EXPECTED  (live) the capture of incident 1 as `ringcap incident pcap 1 -w' wrote it
 * Prints "PASS e2e/console/NAME" or "FAIL e2e/console/NAME: why" per check (the suite's format)
 * and exits 1 if any check failed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k) => {
	const v = process.env[k];
	if (!v) { console.log(`FAIL e2e/console/setup: ${k} not set`); process.exit(1); }
	return v;
};
const PHASE = env('PHASE');
const BASE = env('BASE').replace(/\/$/, '');
const TOKEN = env('TOKEN');
const WORK = env('WORK');
const EXPECTED = PHASE === 'live' ? env('EXPECTED') : null;
const ORIGIN = new URL(BASE).origin;

let failures = 0;
const pass = (n) => console.log(`PASS e2e/console/${n}`);
const fail = (n, why) => { failures++; console.log(`FAIL e2e/console/${n}: ${String(why).replace(/\s+/g, ' ').slice(0, 400)}`); };
async function check(name, fn) {
	try {
		await fn();
		pass(name);
		return true;
	} catch (e) {
		fail(name, e && e.message ? e.message : e);
		return false;
	}
}

/* The API, as the test sees it (the reference for what the page shows). */
async function apiGet(p) {
	const r = await fetch(`${BASE}/api/v1${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
	assert.equal(r.status, 200, `GET ${p}: ${r.status}`);
	return r.json();
}

/* Chromium kept off the network: nothing but loopback resolves, no background services. */
const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	headless: true,
	args: [
		'--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
		'--no-first-run', '--no-default-browser-check', '--disable-background-networking',
		'--disable-component-update', '--disable-default-apps', '--disable-sync',
		'--disable-client-side-phishing-detection', '--metrics-recording-only',
		'--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication',
		'--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
	],
});

/* Every page is watched: requests that leave the agent's origin, CSP violations, script errors. */
const offOrigin = [], cspErrors = [], pageErrors = [];
async function newPage(width, height) {
	const ctx = await browser.newContext({ viewport: { width, height }, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC' });
	ctx.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith(`${ORIGIN}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) offOrigin.push(u);
	});
	const page = await ctx.newPage();
	page.setDefaultTimeout(15000);
	page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
	page.on('pageerror', (e) => pageErrors.push(e.message));
	return { ctx, page };
}

async function signIn(page, token) {
	await page.goto(`${BASE}/`);
	await page.waitForSelector('#token');
	await page.fill('#token', token);
	await page.click('#signin-submit');
}

const noOverflow = async (page, width) => {
	const sw = await page.evaluate(() => document.documentElement.scrollWidth);
	assert.ok(sw <= width, `page is ${sw} px wide at a ${width} px viewport`);
};

const shot = (page, name) => page.screenshot({ path: path.join(WORK, name), fullPage: true });
const text = async (page, sel) =>
	(await page.locator(sel).first().evaluate((e) => (e instanceof HTMLElement ? e.innerText : e.textContent))).replace(/\s+/g, ' ').trim();
const hms = (iso) => /T(\d\d:\d\d:\d\d)/.exec(iso)[1];
const fmtInt = (n) => new Intl.NumberFormat('en-US').format(n);

/* "473.5 kB" -> bytes and the rounding the console allows */
function parseSize(s) {
	const m = /([\d.]+)\s*(B|kB|MB|GB|TB)\b/.exec(s);
	assert.ok(m, `no size in "${s}"`);
	const mult = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[m[2]];
	return { bytes: Number(m[1]) * mult, slack: mult === 1 ? 0 : mult * 0.05 + 1e-6 };
}

async function live() {
	const { ctx, page } = await newPage(1280, 800);
	const list = await apiGet('/incidents');
	const inc1 = list.incidents.find((i) => i.id === 1);
	const detail = await apiGet('/incidents/1');
	const meta = detail.incident;

	await check('api-has-incident-1', () => {
		assert.ok(inc1, 'incident 1 not in GET /incidents');
		assert.equal(detail.storage.state, 'sealed');
	});

	/* sign-in: a wrong token is refused with a message, the right one opens the list */
	await check('signin-bad-token-refused', async () => {
		await signIn(page, 'not-a-token');
		await page.waitForSelector('#signin-msg.error');
		assert.match(await text(page, '#signin-msg'), /refused.*401|401.*refused/i);
		assert.equal(await page.isVisible('#signin'), true);
	});
	await check('signin', async () => {
		await page.fill('#token', TOKEN);
		await page.click('#signin-submit');
		await page.waitForSelector('#incident-table tr[data-id="1"]');
		assert.equal(await page.evaluate(() => sessionStorage.getItem('ringcap.token')), TOKEN);
	});

	const status = await apiGet('/status');
	await check('status-shows-agent', async () => {
		await page.waitForSelector('#status-tiles');
		assert.equal(status.mode, 'capture');
		assert.match(await text(page, '#status-tiles .mode'), /capture/);
		assert.equal(await text(page, '#status-tiles .source .tv'), status.source);
		const th = await text(page, '#status .thresholds');
		assert.match(th, new RegExp(`TCP SYN rate ${fmtInt(status.thresholds.syn_pps)} pkt/s`));
	});
	const updated0 = await text(page, '#status-updated');

	await check('list-row-matches-api', async () => {
		const row = page.locator('#incident-table tr[data-id="1"]');
		const cells = await row.locator('td').allInnerTexts();
		const byLabel = {};
		const labels = await row.locator('td').evaluateAll((tds) => tds.map((td) => td.dataset.label));
		labels.forEach((l, i) => { byLabel[l] = cells[i].replace(/\s+/g, ' ').trim(); });
		assert.equal(byLabel.ID, '#1');
		assert.match(byLabel.Trigger, /syn_pps/);
		assert.equal(byLabel.Packets.replace(/ cap reached$/, ''), fmtInt(inc1.pcap_packets));
		assert.equal(/cap reached/.test(byLabel.Packets), !!inc1.cap_reached);
		assert.match(byLabel.Started, new RegExp(hms(inc1.started_at)));
		assert.match(byLabel.Ended, new RegExp(hms(inc1.resolved_at)));
		const sz = parseSize(byLabel.Size);
		assert.ok(Math.abs(sz.bytes - inc1.pcap_bytes) <= sz.slack, `size ${byLabel.Size} vs ${inc1.pcap_bytes}`);
		assert.match(byLabel.State, /resolved/);
		const ids = await page.locator('#incident-table tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
		assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
	});
	await shot(page, 'console-list-1280x800.png');

	/* the incident page, from a click in the list */
	await check('incident-page-opens', async () => {
		await page.click('#incident-table tr[data-id="1"] a');
		await page.waitForSelector('#summary');
		assert.equal(new URL(page.url()).hash, '#/incidents/1');
	});
	await check('summary-matches-api', async () => {
		const sum = await text(page, '#summary');
		assert.match(sum, /^SIZE .+ · PKTS .+ · DURATION \d\d:\d\d:\d\d → \d\d:\d\d:\d\d$/);
		const sz = parseSize(await text(page, '#summary .sum-size'));
		assert.ok(Math.abs(sz.bytes - meta.pcap_bytes) <= sz.slack, `SIZE ${sum} vs ${meta.pcap_bytes} bytes`);
		const pk = /PKTS ([\d,]+)( \(cap reached\))?/.exec(sum);
		assert.equal(pk[1], fmtInt(meta.pcap_packets));
		assert.equal(!!pk[2], !!meta.cap_reached);
		const du = /DURATION (\S+) → (\S+)/.exec(sum);
		assert.equal(du[1], hms(meta.started_at));
		assert.equal(du[2], hms(meta.resolved_at));
	});
	await check('sections-match-api', async () => {
		assert.equal(await text(page, '#sections .sec-pre'), fmtInt(meta.pre_trigger_packets));
		assert.equal(await text(page, '#sections .sec-post'), fmtInt(meta.incident_packets));
		assert.ok(meta.pre_trigger_packets > 0);
	});
	await check('chart-drawn-with-trigger-and-threshold', async () => {
		await page.waitForSelector('#rate-chart');
		assert.equal(await page.locator('#rate-chart path.line').count(), 2);
		assert.equal(await page.locator('#rate-chart line.trigger').count(), 2);
		assert.equal(await page.locator('#rate-chart line.threshold').count(), 1);
		assert.match(await text(page, '#rate-chart .thrlab'), new RegExp(`${fmtInt(meta.trigger.limit)} ${meta.trigger.unit}`));
		assert.match(await text(page, '#rate-chart .triglab'), new RegExp(hms(meta.trigger.time)));
		/* the packets/s line reaches the peak of the rates: its highest point is the top y */
		const peak = Math.max(...detail.rates.map((r) => r.pps));
		assert.match(await text(page, '#rate-chart .panel-pps .pnote'), new RegExp(`peak ${fmtInt(peak)} pkt/s`));
	});
	await check('top-talkers-and-classification', async () => {
		const src = await page.locator('#top .top').nth(0).locator('td.addr').allInnerTexts();
		assert.equal(src[0].trim(), meta.top_sources[0].addr);
		const dst = await page.locator('#top .top').nth(1).locator('td.addr').allInnerTexts();
		assert.equal(dst[0].trim(), meta.top_destinations[0].addr);
		const dport = await page.locator('#top .top').nth(3).locator('td.addr').allInnerTexts();
		assert.equal(dport[0].trim(), `${meta.top_destination_ports[0].port}/tcp`);
		assert.match(await text(page, '#trigger'), new RegExp(`Classification ${meta.classification}`));
	});
	await check('storage-matches-api', async () => {
		const s = await text(page, '#storage');
		const st = detail.storage;
		assert.match(s, st.encrypted ? /Encrypted yes/ : /Encrypted no/);
		if (st.key_id) assert.match(s, new RegExp(`Key id ${st.key_id}`));
		if (st.expires_at) assert.match(s, new RegExp(`Expires ${st.expires_at.slice(0, 10)} ${hms(st.expires_at)} UTC`));
		assert.match(s, st.retention_days > 0 ? new RegExp(`Retention ${st.retention_days} days`) : /Retention kept forever/);
	});

	/* Download PCAP: the browser saves exactly what `ringcap incident pcap' writes */
	const dlFile = path.join(WORK, 'downloaded-incident-1.pcap');
	await check('download-pcap', async () => {
		const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-btn')]);
		assert.equal(await dl.failure(), null);
		await dl.saveAs(dlFile);
		assert.equal(dl.suggestedFilename(), 'incident-1.pcap');
		assert.ok(dl.url().startsWith(`${ORIGIN}/api/v1/incidents/1/pcap?`), dl.url());
	});
	await check('download-equals-incident-pcap', () => {
		const a = fs.readFileSync(dlFile), b = fs.readFileSync(EXPECTED);
		assert.ok(b.length > 24, 'reference capture empty');
		assert.equal(a.length, b.length, `downloaded ${a.length} bytes, expected ${b.length}`);
		assert.ok(a.equals(b), 'bytes differ');
	});
	await check('download-shows-link-expiry-and-wget', async () => {
		await page.waitForSelector('#wget-line');
		const w = await text(page, '#wget-line');
		assert.match(w, /^wget -O incident-1\.pcap "http:\/\/[^"]+\/api\/v1\/incidents\/1\/pcap\?[^"]*sig=[^"]+"$/);
		assert.match(await text(page, '#url-expiry'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ (s|min)\)$/);
		/* the wget line is a working command: its URL serves the same file without a token */
		const url = /"([^"]+)"/.exec(w)[1];
		const r = await fetch(url);
		assert.equal(r.status, 200);
		assert.ok(Buffer.from(await r.arrayBuffer()).equals(fs.readFileSync(EXPECTED)));
	});
	await shot(page, 'console-incident-1280x800.png');

	await check('unknown-incident-404-message', async () => {
		await page.goto(`${BASE}/#/incidents/999999`);
		await page.waitForSelector('#incident-body .msg.error');
		assert.match(await text(page, '#incident-body'), /Incident 999999 does not exist \(404\)/);
	});

	/* Capture now: the new capture shows up in the list */
	await check('capture-now-appears-in-list', async () => {
		await page.goto(`${BASE}/#/incidents`);
		await page.waitForSelector('#capture-form');
		await page.fill('#cap-seconds', '2');
		await page.fill('#cap-packets', '40');
		await page.click('#cap-submit');
		await page.waitForSelector('#capture-msg .msg.ok');
		const m = /Manual capture (\d+) started/.exec(await text(page, '#capture-msg'));
		assert.ok(m, await text(page, '#capture-msg'));
		const id = m[1];
		await page.waitForSelector(`#incident-table tr[data-id="${id}"]`, { timeout: 20000 });
		assert.match(await text(page, `#incident-table tr[data-id="${id}"]`), /manual/);
		const api = await apiGet(`/incidents/${id}`);
		assert.equal(api.incident.trigger.threshold, 'manual');
		assert.equal(Number(await page.locator('#incident-table tbody tr').first().getAttribute('data-id')), Number(id), 'newest first');
	});
	await check('status-refreshes', async () => {
		await page.waitForFunction((prev) => {
			const e = document.querySelector('#status-updated');
			return e && e.textContent && e.textContent !== prev;
		}, updated0, { timeout: 15000 });
	});
	await shot(page, 'console-list-after-capture-1280x800.png');
	await check('capture-form-validates', async () => {
		await page.fill('#cap-seconds', '0');
		await page.click('#cap-submit');
		await page.waitForSelector('#capture-msg .msg.error');
		assert.match(await text(page, '#capture-msg'), /Seconds must be/);
		await page.fill('#cap-seconds', '30');
	});

	/* the audit trail: newest first, what this test did is in it, and its verification */
	await check('audit-trail', async () => {
		await page.click('[data-nav="audit"]');
		await page.waitForSelector('#audit-table');
		const events = await page.locator('#audit-table td[data-label="Event"]').allInnerTexts();
		for (const ev of ['url_issued', 'download_completed', 'capture_started'])
			assert.ok(events.some((e) => e.trim() === ev), `no ${ev} in the trail shown`);
		const seqs = await page.locator('#audit-table tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.seq)));
		assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
		const api = await apiGet('/audit?limit=1');
		assert.equal(seqs[0], api.records[0].seq);
	});
	await check('audit-verification-shown', async () => {
		await page.waitForSelector('#verify-result');
		const v = await apiGet('/audit/verify');
		assert.equal(v.ok, true, v.report);
		assert.match(await text(page, '#verify-result'), /The audit trail verifies/);
		assert.ok((await text(page, '#verify-report')).length > 0);
	});
	await shot(page, 'console-audit-1280x800.png');

	/* every error the API can give gets a clear message (answers injected in the browser) */
	const fake = (status, error) => (route) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify({ error, status }) });
	const tryDownload = async (status, error, re) => {
		const dlUrl = (u) => u.pathname === '/api/v1/incidents/1/download-url';
		await page.route(dlUrl, fake(status, error));
		await page.goto(`${BASE}/#/incidents/1`);
		await page.waitForSelector('#download-btn:not([disabled])');
		await page.click('#download-btn');
		await page.waitForSelector('#download-out .msg.error');
		assert.match(await text(page, '#download-out'), re);
		await page.unroute(dlUrl);
	};
	await check('error-409-message', () => tryDownload(409, 'no capture yet', /no capture to download yet \(409\)/));
	await check('error-410-message', () => tryDownload(410, 'capture expired', /has expired \(410\)/));
	await check('error-403-message', () => tryDownload(403, 'forbidden', /may not download captures \(403\)/));
	await check('error-503-message', async () => {
		const capUrl = (u) => u.pathname === '/api/v1/captures';
		await page.route(capUrl, fake(503, 'no agent captures on this folder'));
		await page.goto(`${BASE}/#/incidents`);
		await page.waitForSelector('#capture-form');
		await page.click('#cap-submit');
		await page.waitForSelector('#capture-msg .msg.error');
		assert.match(await text(page, '#capture-msg'), /No agent is capturing on this folder \(503\)/);
		await page.unroute(capUrl);
	});
	await check('error-network-down-message', async () => {
		const anyApi = (u) => u.pathname.startsWith('/api/');
		await page.route(anyApi, (route) => route.abort('connectionrefused'));
		await page.goto(`${BASE}/#/audit`);
		await page.waitForSelector('#banner:not([hidden])');
		assert.match(await text(page, '#banner'), /Cannot reach the agent/);
		assert.match(await text(page, '#audit-body'), /Cannot reach the agent/);
		await page.unroute(anyApi);
		await page.click('#audit-reverify');
		await page.waitForSelector('#banner', { state: 'hidden' });
	});
	await check('error-401-signs-out', async () => {
		const listUrl = (u) => u.pathname === '/api/v1/incidents';
		await page.route(listUrl, fake(401, 'unknown token'));
		await page.goto(`${BASE}/#/incidents`);
		await page.waitForSelector('#signin:not([hidden])');
		assert.match(await text(page, '#signin-msg'), /refused the token \(401: unknown token\)/);
		assert.equal(await page.evaluate(() => sessionStorage.getItem('ringcap.token')), null);
		await page.unroute(listUrl);
	});
	await check('sign-out', async () => {
		await page.fill('#token', TOKEN);
		await page.click('#signin-submit');
		await page.waitForSelector('#signout');
		await page.click('#signout');
		await page.waitForSelector('#signin:not([hidden])');
		assert.equal(await page.evaluate(() => sessionStorage.getItem('ringcap.token')), null);
	});
	await ctx.close();

	/* a 390 px wide phone: same pages, no horizontal overflow */
	const n = await newPage(390, 844);
	await check('narrow-list', async () => {
		await signIn(n.page, TOKEN);
		await n.page.waitForSelector('#incident-table tr[data-id="1"]');
		await n.page.waitForSelector('#status-tiles');
		await noOverflow(n.page, 390);
		await shot(n.page, 'console-list-390x844.png');
	});
	await check('narrow-incident', async () => {
		await n.page.click('#incident-table tr[data-id="1"] a');
		await n.page.waitForSelector('#rate-chart');
		await noOverflow(n.page, 390);
		const box = await n.page.locator('#rate-chart').boundingBox();
		assert.ok(box.x >= 0 && box.x + box.width <= 390, `chart ${box.x}+${box.width}`);
	});
	await check('narrow-download-line', async () => {
		const [dl] = await Promise.all([n.page.waitForEvent('download'), n.page.click('#download-btn')]);
		await dl.saveAs(path.join(WORK, 'downloaded-narrow.pcap'));
		assert.ok(fs.readFileSync(path.join(WORK, 'downloaded-narrow.pcap')).equals(fs.readFileSync(EXPECTED)));
		await n.page.waitForSelector('#wget-line');
		await noOverflow(n.page, 390);
		await shot(n.page, 'console-incident-390x844.png');
	});
	await check('narrow-audit', async () => {
		await n.page.click('[data-nav="audit"]');
		await n.page.waitForSelector('#audit-table');
		await n.page.waitForSelector('#verify-result');
		await noOverflow(n.page, 390);
		await shot(n.page, 'console-audit-390x844.png');
	});
	await n.ctx.close();
}

/* `ringcap serve' with no agent: review mode, and "Capture now" explains why it cannot. */
async function review() {
	const { ctx, page } = await newPage(1280, 800);
	await check('review-status', async () => {
		await signIn(page, TOKEN);
		await page.waitForSelector('#status-tiles');
		assert.equal((await apiGet('/status')).mode, 'review');
		assert.match(await text(page, '#status-tiles .mode'), /review/);
		assert.match(await text(page, '#status'), /Review mode: no agent is capturing/);
		await page.waitForSelector('#incident-table tr[data-id="1"]');
	});
	await check('review-capture-503', async () => {
		await page.click('#cap-submit');
		await page.waitForSelector('#capture-msg .msg.error');
		assert.match(await text(page, '#capture-msg'), /No agent is capturing on this folder \(503\)/);
	});
	await ctx.close();
}

try {
	if (PHASE === 'live') await live();
	else await review();
} catch (e) {
	fail(`${PHASE}-aborted`, e && e.stack ? e.stack : e);
}
await check(`${PHASE}-no-external-requests`, () => assert.deepEqual(offOrigin, []));
await check(`${PHASE}-no-csp-violations`, () => assert.deepEqual(cspErrors, []));
await check(`${PHASE}-no-script-errors`, () => assert.deepEqual(pageErrors, []));
await browser.close();
process.exit(failures ? 1 : 0);
