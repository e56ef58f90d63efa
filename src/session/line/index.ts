/**
 * Contact lines: the webhooks, the 'line' stream route and the dispatch of waiting callers to
 * agents, plugged into the server through its `extend` hook (src/compose.ts wires it when
 * LINES_CONFIG is set).
 *
 *   POST /twiml/line          customer's voice webhook (the Twilio number points here)
 *   POST /twiml/agent         agent's TwiML, fetched when an agent answers the call we placed:
 *                             the whisper and <Gather> (screening), or the agent's stream
 *   POST /twiml/agent-accept  the <Gather>'s action: Digits=1 joins the agent, anything else not
 *   POST /twiml/agent-status  agent call status callbacks (answered and the final status only)
 *   stream mode=line          both legs' media streams, paired by room id + signed token
 *
 * Every URL handed to Twilio (both Stream urls, the agent webhooks and status callback) is
 * this instance's own public URL (INSTANCE_URL, else PUBLIC_URL, else the request's host):
 * both legs of a room reach the process that holds it. Agents' presence and the queues are
 * shared (PresenceStore: this process, or Redis). See docs/two-party.md.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Logger } from '../../observability/logger.js';
import { lastFour, maskPhone } from '../../observability/logger.js';
import { metrics } from '../../observability/metrics.js';
import type { MaskingProfile } from '../../pipeline/profile.js';
import { MEDIA_PATH } from '../../http/app.js';
import { twilioSignatureGuard, webhookBody } from '../../http/guards.js';
import { connectStream, TwimlTemplate, xmlEscape } from '../../http/twiml.js';
import { publicBase, toWebSocketBase } from '../../twilio/public-url.js';
import { streamPath, type StreamTokens } from '../../twilio/stream-tokens.js';
import { embeddedHoldMusic, loadHoldFile } from '../../voice/hold-music.js';
import type { MaskedAudio } from '../../voice/masked.js';
import type { HoldSound } from '../hold-audio.js';
import type { CallManager, CallRoute } from '../manager.js';
import { createTwilioClient, twilioCallControl, type CallControl } from './call-control.js';
import { LineMetrics } from './line-metrics.js';
import { checkLineVoices, LinesConfigError, loadLinesFile, type LineConfig, type LinesConfig } from './lines-file.js';
import { Pacer, type CallPacer } from './pacer.js';
import { MemoryPresence } from './presence-memory.js';
import type { PresenceStore } from './presence.js';
import { Room } from './room.js';
import { RoomTokens } from './tokens.js';
import type { CallRecorder } from '../../recording/index.js';

export { Room } from './room.js';
export { RoomTokens } from './tokens.js';
export { loadLinesFile, parseLines, LinesConfigError, type LineConfig, type LinesConfig } from './lines-file.js';

export const LINE_MODE = 'line';
const CALL_SID = /^CA[0-9a-zA-Z]{1,64}$/;

/** What the contact lines need of the configuration, resolved in the root (src/compose/line-settings.ts). */
export interface LineSettings {
  /** LINES_CONFIG: the lines file. */
  linesFile: string | undefined;
  mask: 'agent' | 'both';
  dialTimeoutS: number;
  roomSecret: string | undefined;
  authToken: string | undefined;
  publicUrl: string | undefined;
  instanceUrl: string | undefined;
  agentVoiceKeys: boolean;
  /** Outbound agent calls placed per second at most (Twilio's account default is 1). */
  dialCps: number;
  /** The REST client's credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_BASE_URL). */
  rest: { accountSid: string | undefined; authToken: string | undefined; baseUrl: string | undefined };
}

export interface LineOptions {
  /** Already-loaded lines (tests); default: LINES_CONFIG. */
  lines?: LinesConfig;
  /** REST calls (default: the twilio client from TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_API_BASE_URL). */
  control?: CallControl;
  /** Agents' presence and the queues (default: this process's; the composition root passes Redis's). */
  presence?: PresenceStore;
  /** The outbound call rate (default: this process's DIAL_CPS; with Redis the fleet's, shared). */
  pacer?: CallPacer;
  /** Receives the room registry (tests, diagnostics). */
  onRooms?: (rooms: ReadonlyMap<string, Room>) => void;
}

type ExtendCtx = { log: Logger; profile: MaskingProfile; calls: CallManager; rateLimit: RequestHandler; recordings?: CallRecorder | undefined; streamTokens?: StreamTokens | undefined };

export interface ReloadResult {
  ok: boolean;
  problems: string[];
  warnings: string[];
}

export interface LineService {
  routers: Router[];
  routes: Record<string, CallRoute>;
  /** Reads the lines file again: new calls use it; calls in progress keep what they started with. */
  reload(): Promise<ReloadResult>;
  presence: PresenceStore;
  rooms: ReadonlyMap<string, Room>;
  /** The lines file in use now (a read-only view: the operator console). */
  config(): LinesConfig;
  close(): Promise<void>;
}

/** A lines file with its hold sounds decoded: what a reload swaps in whole, or not at all. */
interface LoadedLines {
  config: LinesConfig;
  sounds: Map<string, HoldSound>;
}

/** Reads, validates and decodes a lines file: every problem named (file, line, field). */
async function loadLines(settings: LineSettings, profile: MaskingProfile, given?: LinesConfig): Promise<LoadedLines> {
  const config = given ?? loadLinesFile(settings.linesFile!, { mask: settings.mask, dialTimeoutS: settings.dialTimeoutS });
  checkLineVoices(config, (id) => profile.voices.isValid(id), () => profile.voices.describe());
  const problems: string[] = [];
  const files = new Map<string, Promise<MaskedAudio>>();
  const decode = (f: string) => {
    let p = files.get(f);
    if (!p) files.set(f, (p = loadHoldFile(f)));
    return p;
  };
  const sounds = new Map<string, HoldSound>();
  for (const l of config.lines.values()) {
    const part = async (field: 'holdAudio' | 'holdMessage', f: string | undefined) => {
      if (!f) return undefined;
      try {
        return await decode(f);
      } catch (err) {
        problems.push(`line "${l.number}": ${field}: ${f} ${(err as Error).message}`);
        return undefined;
      }
    };
    const [loop, message] = await Promise.all([part('holdAudio', l.holdAudio), part('holdMessage', l.holdMessage)]);
    sounds.set(l.number, { loop: loop ?? embeddedHoldMusic(), ...(message && { message, messageEveryMs: l.holdMessageEveryS * 1000 }) });
  }
  if (problems.length) throw new LinesConfigError(config.file, problems);
  return { config, sounds };
}

/** The `extend` hook of startServer for contact lines. Rejects at start-up on a bad lines file. */
export function lineExtension(settings: LineSettings, opts: LineOptions = {}) {
  return async ({ log: rootLog, profile, calls, rateLimit, recordings, streamTokens }: ExtendCtx): Promise<LineService> => {
    const log = rootLog.child({ component: 'line' });
    const s = settings;
    if (!opts.lines && !s.linesFile) throw new Error('lineExtension: LINES_CONFIG is not set');
    let current = await loadLines(s, profile, opts.lines);
    for (const w of current.config.warnings) log.warn(`LINES_CONFIG ${current.config.file}: ${w}`);
    const control = opts.control ?? twilioCallControl(createTwilioClient(s.rest), log);
    const presence = opts.presence ?? new MemoryPresence();
    await presence.setRoster([...current.config.agents.keys()]);
    const tokens = new RoomTokens(s.roomSecret);
    const personaSecret = s.roomSecret ?? randomBytes(32).toString('hex');
    if (!s.roomSecret) log.warn('LINE_ROOM_SECRET is not set: stable personas change voice when this process restarts (set it, the same on every instance)');
    const pacer = opts.pacer ?? new Pacer(s.dialCps);
    const lineMetrics = new LineMetrics();
    const rooms = new Map<string, Room>();
    /** The TwiML each customer call was answered with, by CallSid: a replayed webhook gets it again. */
    const answered = new Map<string, string>();
    opts.onRooms?.(rooms);
    log.info({ file: current.config.file, lines: [...current.config.lines.keys()].map(maskPhone), agents: current.config.agents.size }, 'contact lines loaded');

    const templates = {
      line: TwimlTemplate.load('line', ['stream']),
      unknown: TwimlTemplate.load('line-unknown'),
      busy: TwimlTemplate.load('line-busy'),
      noAnswer: TwimlTemplate.load('line-no-answer'),
      agent: TwimlTemplate.load('agent', ['stream']),
      agentScreen: TwimlTemplate.load('agent-screen', ['gather']),
      agentGone: TwimlTemplate.load('agent-gone'),
    };
    const bare = (doc: string) => doc.replace(/^<\?xml[^>]*\?>\s*/, '').trim();
    const queueTimeoutTwiml = (line: LineConfig) =>
      line.fallbackTwiml ?? (line.overflowMessage ? `<Response><Say>${xmlEscape(line.overflowMessage)}</Say><Hangup/></Response>` : bare(templates.noAnswer.render({})));

    const instanceBase = (req: Request) => publicBase(req, s.instanceUrl ?? s.publicUrl);
    /** A stream URL bound to one call (a one-use token for that CallSid) when signatures are on. */
    const mediaPath = (callSid: string) => (streamTokens && s.authToken ? streamPath(MEDIA_PATH, streamTokens.issue(callSid)) : MEDIA_PATH);
    const form = (req: Request) => (req.body ?? {}) as Record<string, string | undefined>;
    const twiml = (res: express.Response, body: string) => res.type('text/xml').send(body);

    // ---- dispatch: offer available agents to the longest-waiting callers of this instance ----
    let dispatching = false;
    let again = false;
    const dispatch = () => {
      if (dispatching) {
        again = true;
        return;
      }
      dispatching = true;
      void (async () => {
        do {
          again = false;
          const waiting = [...rooms.values()].filter((r) => r.wantsAgent && r.enqueuedAt !== undefined).sort((a, b) => a.enqueuedAt! - b.enqueuedAt!);
          // In queue order; once a line has no agent for its head caller, its later callers wait
          // too (trying them all on every change would be a thundering herd on the store).
          const exhausted = new Set<string>();
          for (const room of waiting) {
            if (!room.wantsAgent || exhausted.has(room.line.number)) continue;
            try {
              const exclude = room.excluded();
              const agents = await presence.claim({
                line: room.line.number,
                callSid: room.customerCallSid,
                candidates: room.line.agents.map((a) => a.id),
                strategy: room.line.strategy,
                exclude,
              });
              if (agents.length) room.ring(agents);
              else if (exclude.length === 0) exhausted.add(room.line.number);
            } catch (err) {
              room.log.warn({ err: (err as Error).message }, 'could not claim an agent now: retrying');
              setTimeout(dispatch, 1000).unref();
            }
          }
        } while (again);
        dispatching = false;
      })();
    };
    const unsubscribe = presence.onChange(dispatch);
    // Waiting callers are offered agents again now and then (a retry window passed, a missed change).
    const sweep = setInterval(dispatch, 5000);
    sweep.unref();

    const router = express.Router();
    router.use(['/twiml/line', '/twiml/agent', '/twiml/agent-accept', '/twiml/agent-status'], [rateLimit, webhookBody]);
    // The customer's webhook may arrive through a load balancer (PUBLIC_URL or the request's host);
    // the agent's webhooks come to this instance's own URL.
    router.post('/twiml/line', twilioSignatureGuard(s.authToken, s.publicUrl, log), (req, res) => {
      const { CallSid: callSid, To: to, From: from } = form(req);
      const line = current.config.get(to);
      if (!line || !callSid || !CALL_SID.test(callSid)) {
        log.warn({ callSid, to: maskPhone(to) }, 'call to a number with no line configured: answering "not in service"');
        return twiml(res, templates.unknown.render({ line: to ?? '' }));
      }
      const replay = answered.get(callSid);
      if (replay !== undefined) {
        log.info({ callSid }, 'customer webhook repeated for a call in progress: same answer');
        return twiml(res, replay);
      }
      const session = calls.open(callSid, 'line', log.child({ callSid }));
      if (!session) {
        log.warn({ callSid, calls: calls.activeCalls, draining: calls.isDraining }, 'draining or at capacity: answering "try again later"');
        return twiml(res, templates.busy.render({}));
      }
      session.caller = lastFour(from);
      const id = RoomTokens.newRoomId();
      const base = instanceBase(req);
      const hookToken = tokens.sign(id, 'agent-webhook');
      const qs = `room=${id}&token=${hookToken}`;
      const sounds = current.sounds;
      const room = new Room(id, line, session, {
        profile,
        control,
        presence,
        metrics: lineMetrics,
        voiceCycle: (l) => l.voices ?? profile.voiceCycle,
        agentVoiceKeys: s.agentVoiceKeys,
        agentUrls: { url: `${base}/twiml/agent?${qs}`, statusCallback: `${base}/twiml/agent-status?${qs}` },
        holdSound: (l) => sounds.get(l.number) ?? { loop: embeddedHoldMusic() },
        pace: () => pacer.next(),
        personaSecret,
        queueTimeoutTwiml,
        lineOf: (n) => current.config.get(n),
        dispatch,
        recording: recordings?.start(session, { kind: 'line', line, caller: from }),
      });
      rooms.set(id, room);
      session.onClose(() => {
        rooms.delete(id);
        answered.delete(callSid);
        dispatch();
      });
      room.log.info({ callSid, from: maskPhone(from) }, 'line call: answering with the customer stream');
      const stream = connectStream(
        toWebSocketBase(base) + mediaPath(callSid),
        { mode: LINE_MODE, room: id, role: 'customer', token: tokens.sign(id, 'customer', callSid) },
        'customer',
      );
      const body = templates.line.render({ line: line.number }, { stream, notice: line.notice ? `<Say>${xmlEscape(line.notice)}</Say>` : '' });
      answered.set(callSid, body);
      twiml(res, body);
    });

    const agentGuard = twilioSignatureGuard(s.authToken, s.instanceUrl ?? s.publicUrl, log);
    /** The room a signed agent webhook names, or undefined (and 403 sent) when its token is wrong. */
    const agentRoom = (req: Request, res: express.Response): Room | null | undefined => {
      const { room: id, token } = req.query;
      if (!tokens.verify(id, 'agent-webhook', token)) {
        log.warn({ path: req.path }, 'agent webhook refused: bad room token');
        res.status(403).type('text/plain').send('Forbidden\n');
        return undefined;
      }
      return rooms.get(id as string) ?? null;
    };
    const agentStream = (req: Request, room: Room, callSid: string) =>
      templates.agent.render(
        {},
        {
          stream: connectStream(
            toWebSocketBase(instanceBase(req)) + mediaPath(callSid),
            { mode: LINE_MODE, room: room.id, role: 'agent', token: tokens.sign(room.id, 'agent', callSid) },
            'agent',
          ),
        },
      );

    router.post('/twiml/agent', agentGuard, (req, res) => {
      const room = agentRoom(req, res);
      if (room === undefined) return;
      const callSid = form(req).CallSid;
      if (!room || !callSid || !CALL_SID.test(callSid) || !room.screens(callSid)) {
        log.info({ callSid, room: String(req.query.room).slice(0, 8) }, 'agent answered a call that was taken or has ended');
        return twiml(res, templates.agentGone.render({}));
      }
      if (!room.line.screen) {
        // No screening: the first agent whose stream starts joins (Room.joinAgent).
        room.log.info({ agentCallSid: callSid }, 'agent answered (no screening): opening the agent stream');
        return twiml(res, agentStream(req, room, callSid));
      }
      room.log.info({ agentCallSid: callSid }, 'agent answered: whisper, waiting for the key');
      const action = `${instanceBase(req)}/twiml/agent-accept?room=${room.id}&token=${encodeURIComponent(String(req.query.token))}`;
      const say = `Call for line ${room.line.number.replace(/(\d)/g, '$1 ').trim()}. Press 1 to accept.`;
      const gather = `<Gather input="dtmf" numDigits="1" timeout="${room.line.acceptTimeoutS}" action="${xmlEscape(action)}" method="POST"><Say>${xmlEscape(say)}</Say></Gather>`;
      twiml(res, templates.agentScreen.render({ line: room.line.number }, { gather }));
    });

    router.post('/twiml/agent-accept', agentGuard, (req, res) => {
      const room = agentRoom(req, res);
      if (room === undefined) return;
      const { CallSid: callSid, Digits: digits } = form(req);
      if (!room || !callSid || !CALL_SID.test(callSid)) return twiml(res, templates.agentGone.render({}));
      if (digits !== '1') {
        room.log.info({ agentCallSid: callSid }, 'agent did not press 1: not accepted');
        void control.hangUp(callSid);
        return twiml(res, '<Response><Hangup/></Response>');
      }
      if (!room.accept(callSid)) return twiml(res, templates.agentGone.render({}));
      twiml(res, agentStream(req, room, callSid));
    });

    router.post('/twiml/agent-status', agentGuard, (req, res) => {
      const room = agentRoom(req, res);
      if (room === undefined) return;
      const { CallSid: callSid, CallStatus: status } = form(req);
      if (room && callSid && status) room.onAgentStatus(callSid, status);
      res.status(204).end();
    });

    const route: CallRoute = (conn, start, streamLog) => {
      const p = start.customParameters;
      const id = Object.hasOwn(p, 'room') ? p.room : undefined;
      const role = Object.hasOwn(p, 'role') ? p.role : undefined;
      const token = Object.hasOwn(p, 'token') ? p.token : undefined;
      if ((role !== 'customer' && role !== 'agent') || !tokens.verify(id, role, token, start.callSid)) {
        streamLog.warn({ role }, 'line stream refused: missing, forged or misdirected room token');
        return undefined;
      }
      const room = rooms.get(id!);
      if (!room) {
        streamLog.warn({ role }, 'line stream refused: the room has ended');
        return undefined;
      }
      return role === 'customer' ? room.joinCustomer(conn, start, streamLog) : room.joinAgent(conn, start, streamLog);
    };

    const reload = async (): Promise<ReloadResult> => {
      if (!s.linesFile) return { ok: false, problems: ['LINES_CONFIG is not set'], warnings: [] };
      try {
        const next = await loadLines(s, profile);
        await presence.setRoster([...next.config.agents.keys()]);
        current = next;
        metrics.linesReloads.inc({ result: 'ok' });
        for (const w of next.config.warnings) log.warn(`LINES_CONFIG ${next.config.file}: ${w}`);
        log.info({ lines: [...next.config.lines.keys()].map(maskPhone), agents: next.config.agents.size, callsInProgress: rooms.size }, 'lines file reloaded: new calls use it, calls in progress keep theirs');
        dispatch();
        return { ok: true, problems: [], warnings: [...next.config.warnings] };
      } catch (err) {
        metrics.linesReloads.inc({ result: 'invalid' });
        const problems = err instanceof LinesConfigError ? err.problems : [String((err as Error).message)];
        for (const p of problems) log.error(p);
        log.error({ problems: problems.length }, 'lines file NOT reloaded: it has problems; the previous one stays in use');
        return { ok: false, problems, warnings: [] };
      }
    };

    return {
      routers: [router],
      routes: { [LINE_MODE]: route },
      reload,
      presence,
      rooms,
      config: () => current.config,
      async close() {
        clearInterval(sweep);
        unsubscribe();
        pacer.close();
        await presence.close();
      },
    };
  };
}
