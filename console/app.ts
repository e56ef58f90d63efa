/**
 * The operator console's page (bundled into app.js by src/console/bundle.ts). Plain TypeScript
 * and the DOM: the live state arrives over server-sent events (/console/events) and is drawn
 * into the tables of index.html, row by row (a row is rebuilt only when it changed, so focus
 * and the buttons under it stay put); durations tick here, every second, from the server's
 * clock. Actions are JSON POSTs carrying the session's CSRF token.
 */
import type { AgentView, ConsoleState, ConverterView, FinishedCall, LabResult, LineView, LiveCall, ReloadView, VoiceOption } from '../src/console/view.js';

const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Server time minus ours (ms). */
let clockOffset = 0;
const serverNow = () => Date.now() + clockOffset;

// ---------- helpers ----------

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const secs = (s: number | undefined) => (s === undefined ? '–' : duration(s * 1000));
const time = (epoch: number) => new Date(epoch - clockOffset).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortId = (id: string) => (id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id);

/** A cell whose text is the time since `since` (server epoch ms), kept ticking. */
function since(epoch: number | undefined): HTMLElement {
  if (epoch === undefined) return h('span', { class: 'muted' }, '–');
  return h('span', { class: 'num', 'data-since': String(epoch) }, duration(serverNow() - epoch));
}

function tickDurations(): void {
  const now = serverNow();
  for (const el of document.querySelectorAll<HTMLElement>('[data-since]')) el.textContent = duration(now - Number(el.dataset.since));
}

const STATE_CLASS: Record<string, string> = {
  connected: 'ok',
  available: 'ok',
  completed: 'ok',
  closed: 'ok',
  queued: 'warn',
  ringing: 'info',
  screening: 'info',
  connecting: 'neutral',
  'wrap-up': 'neutral',
  'on-call': 'ok',
  paused: 'muted',
  'half-open': 'warn',
  open: 'bad',
  abandoned: 'warn',
  'no agent in time': 'warn',
  'agent did not join': 'warn',
  'not connected': 'neutral',
  'ended by operator': 'neutral',
  shutdown: 'neutral',
  error: 'bad',
};

function badge(text: string, kind = STATE_CLASS[text] ?? 'neutral'): HTMLElement {
  return h('span', { class: `badge ${kind}` }, text);
}

let toastTimer: number | undefined;
function toast(text: string, kind: 'ok' | 'bad' = 'ok'): void {
  const t = $('toast');
  t.textContent = text;
  t.className = `toast ${kind}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (t.hidden = true), 4000);
}

async function post<T>(url: string, body?: unknown, init: RequestInit = {}): Promise<{ ok: boolean; status: number; data: T }> {
  const headers: Record<string, string> = { 'X-CSRF-Token': csrf, Accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (body instanceof Blob) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, { method: 'POST', headers, credentials: 'same-origin', ...(payload !== undefined && { body: payload }), ...init });
  if (res.status === 401) {
    location.assign('/console');
    throw new Error('signed out');
  }
  const data = (await res.json().catch(() => ({}))) as T;
  return { ok: res.ok, status: res.status, data };
}

/** An event handler whose failure is shown to the operator, never left as an unhandled rejection. */
function guarded<E extends Event>(fn: (e: E) => Promise<void> | void): (e: E) => void {
  return (e) => {
    try {
      const r = fn(e);
      if (r) r.catch((err: unknown) => failed(err));
    } catch (err) {
      failed(err);
    }
  };
}

function failed(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (message !== 'signed out') toast(`Something went wrong: ${message}`, 'bad');
}

const errorOf = (data: unknown, status?: number) =>
  (data as { error?: string }).error ?? (status === 413 ? 'the file is too large' : status === 429 ? 'too many requests: try again in a moment' : `failed${status ? ` (HTTP ${status})` : ''}`);

/**
 * Keyed rows: a row is rebuilt only when its signature changed, kept otherwise (with its focus
 * and buttons); rows are put in the items' order and the ones gone are removed.
 */
const rowCache = new WeakMap<HTMLTableSectionElement, Map<string, { sig: string; tr: HTMLTableRowElement }>>();
function syncRows<T>(tbody: HTMLTableSectionElement, items: readonly T[], key: (t: T) => string, sig: (t: T) => string, build: (t: T) => HTMLTableRowElement): void {
  let cache = rowCache.get(tbody);
  if (!cache) rowCache.set(tbody, (cache = new Map()));
  const next = new Map<string, { sig: string; tr: HTMLTableRowElement }>();
  const active = document.activeElement as HTMLElement | null;
  let refocus: { key: string; action: string } | undefined;
  for (const item of items) {
    const k = key(item);
    const s = sig(item);
    const had = cache.get(k);
    if (had && had.sig === s) {
      next.set(k, had);
      continue;
    }
    const tr = build(item);
    tr.dataset.key = k;
    if (had && active && had.tr.contains(active) && active.dataset.action) refocus = { key: k, action: active.dataset.action };
    next.set(k, { sig: s, tr });
  }
  // Place the rows in order (moving only what is out of place); what is left after them is gone.
  let cursor = tbody.firstElementChild;
  for (const { tr } of next.values()) {
    if (cursor === tr) cursor = tr.nextElementSibling;
    else tbody.insertBefore(tr, cursor);
  }
  while (cursor) {
    const after: Element | null = cursor.nextElementSibling;
    cursor.remove();
    cursor = after;
  }
  rowCache.set(tbody, next);
  if (refocus) next.get(refocus.key)?.tr.querySelector<HTMLElement>(`[data-action="${refocus.action}"]`)?.focus();
}

// ---------- rendering ----------

function renderSummary(s: ConsoleState): void {
  $('sum-calls').textContent = String(s.calls.length);
  const onLines = s.calls.filter((c) => c.kind === 'line').length;
  $('sum-calls-sub').textContent = `${s.instance.lines ? `${onLines} on contact lines · ` : ''}capacity ${s.instance.maxCalls}${s.instance.draining ? ' · draining' : ''}`;
  const waiting = s.lines?.reduce((n, l) => n + l.queue.length, 0);
  $('sum-waiting').textContent = waiting === undefined ? '–' : String(waiting);
  const longest = s.lines?.flatMap((l) => l.queue.map((q) => q.since)).sort((a, b) => a - b)[0];
  const sub = $('sum-waiting-sub');
  sub.replaceChildren(longest === undefined ? (s.lines ? 'nobody waiting' : 'no contact lines') : h('span', {}, 'longest ', since(longest)));
  if (s.agents) {
    const free = s.agents.filter((a) => a.state === 'available').length;
    $('sum-agents').textContent = `${free} / ${s.agents.length}`;
    const paused = s.agents.filter((a) => a.state === 'paused').length;
    const busy = s.agents.filter((a) => a.state === 'on-call' || a.state === 'ringing').length;
    $('sum-agents-sub').textContent = `${busy} busy · ${paused} paused`;
  } else {
    $('sum-agents').textContent = '–';
    $('sum-agents-sub').textContent = 'no contact lines';
  }
  const c = s.converter;
  const conv = $('sum-converter');
  if (c.engine === 'elevenlabs') conv.replaceChildren(badge(c.circuit === 'closed' ? 'healthy' : `circuit ${c.circuit}`, c.circuit === 'closed' ? 'ok' : c.circuit === 'open' ? 'bad' : 'warn'));
  else conv.replaceChildren(badge('embedded', 'ok'));
  $('sum-converter-sub').textContent = c.engine === 'elevenlabs' ? `ElevenLabs · ${c.slots?.inFlight ?? 0} slot(s) in use` : `${c.mode} · engine ${(c.engineLoad * 100).toFixed(0)}% of a core`;
  $('engine-badge').textContent = c.engine === 'elevenlabs' ? 'ElevenLabs' : `Embedded · ${c.mode}`;
}

function endButton(call: LiveCall): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'danger small', 'data-action': 'end', 'aria-label': `End call ${shortId(call.id)}` }, 'End');
  let armed: number | undefined;
  b.addEventListener('click', guarded(async () => {
    if (armed === undefined) {
      b.textContent = 'Confirm end';
      b.classList.add('armed');
      armed = window.setTimeout(() => {
        armed = undefined;
        b.textContent = 'End';
        b.classList.remove('armed');
      }, 4000);
      return;
    }
    clearTimeout(armed);
    b.disabled = true;
    const r = await post(`/console/api/calls/${encodeURIComponent(call.id)}/end`);
    toast(r.ok ? `Call ${shortId(call.id)} ended` : `Could not end the call: ${errorOf(r.data, r.status)}`, r.ok ? 'ok' : 'bad');
  }));
  return b;
}

function renderCalls(s: ConsoleState): void {
  const tbody = $<HTMLTableElement>('calls-table').tBodies[0]!;
  $('calls-empty').hidden = s.calls.length > 0;
  syncRows(
    tbody,
    s.calls,
    (c) => c.id,
    (c) => JSON.stringify(c),
    (c) =>
      h(
        'tr',
        {},
        h('td', {}, h('code', { title: c.id }, shortId(c.id))),
        h('td', {}, c.kind),
        h('td', {}, badge(c.state)),
        h('td', {}, since(c.startedAt)),
        h('td', {}, c.caller ? h('span', { class: 'num', 'aria-label': `caller ending ${c.caller.split('').join(' ')}` }, `…${c.caller}`) : h('span', { class: 'muted' }, '–')),
        h('td', {}, c.line ?? h('span', { class: 'muted' }, '–')),
        h('td', {}, c.agent ?? h('span', { class: 'muted' }, c.kind === 'line' ? 'none yet' : '–')),
        h('td', {}, c.voice ?? '–'),
        h('td', {}, c.converter),
        h('td', { class: 'actions' }, endButton(c)),
      ),
  );
}

function renderLines(s: ConsoleState): void {
  const none = s.lines === undefined;
  $('lines-none').hidden = !none;
  $('lines-body').hidden = none;
  ($('reload') as HTMLButtonElement).hidden = none;
  if (none) return;
  const qBody = $<HTMLTableElement>('queues-table').tBodies[0]!;
  syncRows(
    qBody,
    s.lines!,
    (l) => l.label,
    (l) => JSON.stringify(l),
    (l: LineView) => {
      const longest = l.queue[0]?.since;
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, l.label),
        h('td', {}, l.queue.length ? badge(String(l.queue.length), 'warn') : h('span', { class: 'muted' }, '0')),
        h('td', {}, since(longest)),
        h('td', { class: 'num' }, String(l.ringing)),
        h('td', { class: 'num' }, String(l.connected)),
        h('td', { class: 'num' }, `${l.available} / ${l.agents}`),
        h('td', {}, l.strategy),
      );
    },
  );
  const aBody = $<HTMLTableElement>('agents-table').tBodies[0]!;
  syncRows(
    aBody,
    s.agents ?? [],
    (a) => a.key,
    (a) => JSON.stringify({ ...a, since: 0 }) + String(a.since > 0),
    (a: AgentView) => {
      const pausing = a.state !== 'paused';
      const b = h('button', { type: 'button', class: pausing ? 'secondary small' : 'primary small', 'data-action': 'pause', 'aria-label': `${pausing ? 'Pause' : 'Resume'} agent ${a.label}` }, pausing ? 'Pause' : 'Resume');
      b.addEventListener('click', guarded(async () => {
        b.disabled = true;
        const r = await post<{ paused?: boolean }>(`/console/api/agents/${encodeURIComponent(a.key)}/pause`, { paused: pausing });
        b.disabled = false;
        toast(r.ok ? `Agent ${a.label} ${pausing ? 'paused' : 'resumed'}` : `Could not change the agent: ${errorOf(r.data, r.status)}`, r.ok ? 'ok' : 'bad');
      }));
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, a.label),
        h('td', {}, badge(a.state)),
        h('td', {}, a.since > 0 ? since(a.since) : h('span', { class: 'muted' }, '–')),
        h('td', { class: 'num' }, String(a.callsTaken)),
        h('td', {}, a.lines.join(', ')),
        h('td', { class: 'actions' }, b),
      );
    },
  );
}

function stat(label: string, value: Node | string, sub?: string): HTMLElement {
  return h('div', { class: 'stat' }, h('dt', {}, label), h('dd', {}, value, sub ? h('span', { class: 'stat-sub' }, sub) : null));
}

function renderHealth(c: ConverterView): void {
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const items: HTMLElement[] = [];
  if (c.engine === 'elevenlabs') {
    items.push(stat('Circuit', badge(c.circuit ?? 'closed'), c.fallback === 'local' ? 'fallback: embedded engine' : 'fallback: silence'));
    const sl = c.slots;
    items.push(stat('ElevenLabs slots in use', `${sl?.inFlight ?? 0}${sl?.limit !== undefined ? ` / ${sl.limit}` : ''}`, `${sl?.queued ?? 0} waiting${sl?.poolInFlight !== undefined ? ` · fleet ${sl.poolInFlight}` : ''}`));
    items.push(stat('Account limit', sl?.accountLimit !== undefined ? String(sl.accountLimit) : '–', sl?.accountInUse !== undefined ? `${sl.accountInUse} in use (as ElevenLabs last said)` : 'not reported yet'));
  } else {
    items.push(stat('Converter', badge('embedded', 'ok'), `${c.mode} mode, no external service`));
  }
  const mins = Math.round(c.recent.windowS / 60);
  items.push(stat(`429s (${mins} min)`, String(c.recent.concurrency429 + c.recent.retried429), `${c.recent.concurrency429} concurrency · ${c.recent.retried429} retried`));
  items.push(stat(`Fallbacks (${mins} min)`, String(c.recent.fallbacks), `${c.recent.dropped} phrase(s) dropped`));
  items.push(stat('Embedded engine load', pct(c.engineLoad), 'of one core, last 10 s'));
  items.push(stat('Event loop', `${c.eventLoop.lagMs.toFixed(0)} ms`, `p99 delay · ${pct(c.eventLoop.utilization)} busy`));
  $('health-stats').replaceChildren(...items);
}

/**
 * A finished call's type as an icon: the live table names a call's mode in words, and once a
 * call ends nothing of it (its mode included) stays in the page's text but its outcome.
 */
const ICONS: Record<string, string> = {
  // a handset: the caller hears their own masked voice
  direct: 'M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z',
  // two people: a caller and an agent
  line: 'M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2 19c0-3 3-5 6-5s6 2 6 5zm12.5-4.6c2.8.3 7.5 1.6 7.5 4.6h-6c0-1.8-.6-3.3-1.5-4.6z',
};

function kindIcon(kind: string): Element {
  const name = kind === 'hotline' ? 'Hotline' : kind === 'line' ? 'Contact line' : kind;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('class', 'kind');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', name);
  const title = document.createElementNS(NS, 'title');
  title.textContent = name;
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', ICONS[kind === 'line' ? 'line' : 'direct']!);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  // The title is the icon's tooltip; it is not part of the row's text.
  svg.addEventListener('mouseenter', () => svg.prepend(title), { once: true });
  return svg;
}

function renderFinished(s: ConsoleState): void {
  $('finished-empty').hidden = s.finished.length > 0;
  syncRows(
    $<HTMLTableElement>('finished-table').tBodies[0]!,
    s.finished,
    (f) => `${f.id}:${f.endedAt}`,
    () => '',
    (f: FinishedCall) =>
      h(
        'tr',
        {},
        h('td', { class: 'num' }, time(f.endedAt)),
        h('td', {}, h('code', { title: f.id }, shortId(f.id))),
        h('td', {}, kindIcon(f.kind)),
        h('td', {}, badge(f.outcome)),
        h('td', { class: 'num' }, secs(f.durationS)),
        h('td', { class: 'num' }, secs(f.waitS)),
        h('td', {}, f.line ?? '–'),
        h('td', {}, f.agent ?? '–'),
      ),
  );
}

function render(s: ConsoleState): void {
  clockOffset = s.at - Date.now();
  renderSummary(s);
  renderCalls(s);
  renderLines(s);
  renderHealth(s.converter);
  renderFinished(s);
}

// ---------- the live feed ----------

let source: EventSource | undefined;
let retryMs = 1000;
function setConn(text: string, kind: string): void {
  const el = $('conn');
  el.textContent = text;
  el.className = `badge ${kind}`;
}

function connect(): void {
  source?.close();
  const es = new EventSource('/console/events');
  source = es;
  es.addEventListener('state', (ev) => {
    retryMs = 1000;
    setConn('Live', 'ok');
    render(JSON.parse((ev as MessageEvent<string>).data) as ConsoleState);
  });
  es.addEventListener('signed-out', () => {
    es.close();
    location.assign('/console');
  });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CONNECTING) {
      setConn('Reconnecting…', 'warn');
      return;
    }
    // Closed (refused, e.g. the session ended): check, then try again later.
    setConn('Offline', 'bad');
    es.close();
    window.setTimeout(() => void recheck(), retryMs);
    retryMs = Math.min(retryMs * 2, 15_000);
  });
}

async function recheck(): Promise<void> {
  try {
    const r = await fetch('/console/api/state', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (r.status === 401) {
      location.assign('/console');
      return;
    }
    if (r.ok) render((await r.json()) as ConsoleState);
  } catch {
    // still offline
  }
  connect();
}

// ---------- actions ----------

function wireActions(): void {
  $('signout').addEventListener('click', guarded(async () => {
    source?.close();
    await post('/console/logout').catch(() => undefined);
    location.assign('/console');
  }));
  const reload = $<HTMLButtonElement>('reload');
  reload.addEventListener('click', guarded(async () => {
    reload.disabled = true;
    const out = $('reload-result');
    try {
      const r = await post<ReloadView & { error?: string }>('/console/api/lines/reload');
      out.hidden = false;
      if (r.data.ok) {
        out.className = 'notice ok';
        out.replaceChildren(h('strong', {}, 'Lines file reloaded.'), r.data.warnings.length ? h('ul', {}, ...r.data.warnings.map((w) => h('li', {}, w))) : ' New calls use it; calls in progress keep theirs.');
      } else {
        out.className = 'notice bad';
        const problems = r.data.problems ?? [r.data.error ?? 'failed'];
        out.replaceChildren(h('strong', {}, `Not reloaded: ${problems.length} problem(s). The previous file stays in use.`), h('ul', {}, ...problems.map((p) => h('li', {}, p))));
      }
    } finally {
      reload.disabled = false;
    }
  }));
}

// ---------- voice lab ----------

let labUrls: string[] = [];

function labStatus(text: string, kind: 'info' | 'ok' | 'bad' = 'info'): void {
  const el = $('lab-status');
  el.hidden = false;
  el.className = `notice ${kind}`;
  el.textContent = text;
}

function wavUrl(base64: string): string {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
}

async function maskInLab(audio: Blob, what: string): Promise<void> {
  const voice = $<HTMLSelectElement>('lab-voice').value;
  labStatus(`Masking ${what} as ${voice}…`);
  const r = await post<LabResult & { error?: string }>(`/console/api/lab?voice=${encodeURIComponent(voice)}`, audio);
  if (!r.ok) {
    labStatus(`Could not mask it: ${errorOf(r.data, r.status)}`, 'bad');
    return;
  }
  for (const u of labUrls) URL.revokeObjectURL(u);
  labUrls = [wavUrl(r.data.original), wavUrl(r.data.masked)];
  const original = $<HTMLAudioElement>('lab-original');
  const masked = $<HTMLAudioElement>('lab-masked');
  original.src = labUrls[0]!;
  masked.src = labUrls[1]!;
  $('lab-masked-voice').textContent = `(${r.data.voice})`;
  $('lab-results').hidden = false;
  labStatus(`${r.data.seconds.toFixed(1)} s masked as ${r.data.voice} in ${r.data.ms} ms (${r.data.engine}). Playing the masked voice.`, 'ok');
  masked.play().catch(() => undefined);
}

function wireLab(): void {
  const select = $<HTMLSelectElement>('lab-voice');
  const desc = $('lab-voice-desc');
  let voices: VoiceOption[] = [];
  void fetch('/console/api/voices', { credentials: 'same-origin' })
    .then((r) => r.json() as Promise<{ voices: VoiceOption[]; default: string; engine: string }>)
    .then((v) => {
      voices = v.voices;
      select.replaceChildren(...v.voices.map((x) => h('option', { value: x.id, selected: x.id === v.default }, x.name)));
      $('lab-engine').textContent = v.engine;
      desc.textContent = voices.find((x) => x.id === select.value)?.description ?? '';
    })
    .catch(() => labStatus('The voice list could not be loaded.', 'bad'));
  select.addEventListener('change', () => (desc.textContent = voices.find((x) => x.id === select.value)?.description ?? ''));

  const record = $<HTMLButtonElement>('lab-record');
  const stop = $<HTMLButtonElement>('lab-stop');
  let recorder: MediaRecorder | undefined;
  let timer: number | undefined;
  record.addEventListener('click', guarded(async () => {
    if (!navigator.mediaDevices?.getUserMedia) {
      labStatus('This browser cannot record here (the console needs https, or localhost).', 'bad');
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: true } });
    } catch (err) {
      labStatus(`No microphone: ${(err as Error).message}`, 'bad');
      return;
    }
    const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm'].find((t) => MediaRecorder.isTypeSupported(t));
    const rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
    recorder = rec;
    const chunks: Blob[] = [];
    rec.addEventListener('dataavailable', (e) => e.data.size && chunks.push(e.data));
    rec.addEventListener('stop', () => {
      clearTimeout(timer);
      for (const t of stream.getTracks()) t.stop();
      record.disabled = false;
      stop.disabled = true;
      record.textContent = 'Record 5 s';
      maskInLab(new Blob(chunks, { type: rec.mimeType }), 'your recording').catch(failed);
    });
    rec.start(250);
    record.disabled = true;
    stop.disabled = false;
    record.textContent = 'Recording…';
    labStatus('Recording: speak now (5 s).');
    timer = window.setTimeout(() => rec.state === 'recording' && rec.stop(), 5000);
  }));
  stop.addEventListener('click', () => recorder?.state === 'recording' && recorder.stop());

  const file = $<HTMLInputElement>('lab-file');
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) maskInLab(f, f.name).catch(failed);
  });
  const drop = $('lab-drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) maskInLab(f, f.name).catch(failed);
  });
}

// ---------- start ----------

function start(): void {
  wireActions();
  wireLab();
  connect();
  window.setInterval(tickDurations, 1000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
