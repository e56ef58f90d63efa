/**
 * Two-party masked lines: the webhooks and the 'line' stream route, plugged into the server
 * through its `extend` hook (src/compose.ts wires it when LINES_CONFIG is set).
 *
 *   POST /twiml/line          customer's voice webhook (the Twilio number points here)
 *   POST /twiml/agent         agent's TwiML, fetched when an agent answers the call we placed
 *   POST /twiml/agent-status  agent call status callbacks (busy, no-answer, completed, ...)
 *   stream mode=line          both legs' media streams, paired by room id + signed token
 *
 * Every URL handed to Twilio (both Stream urls, the agent webhook and status callback) is
 * this instance's own public URL (INSTANCE_URL, else PUBLIC_URL, else the request's host):
 * both legs of a room reach the process that holds it, so instances share nothing.
 * See docs/two-party.md.
 */
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Logger } from '../../observability/logger.js';
import { maskPhone } from '../../observability/logger.js';

import type { MaskingProfile } from '../../pipeline/profile.js';
import type { CallManager, CallRoute } from '../manager.js';
import { MEDIA_PATH } from '../../http/app.js';
import { twilioSignatureGuard, webhookBody } from '../../http/guards.js';
import { publicBase, toWebSocketBase } from '../../twilio/public-url.js';
import { connectStream, TwimlTemplate, xmlEscape } from '../../http/twiml.js';
import { createTwilioClient, twilioCallControl, type CallControl } from './call-control.js';
import { checkLineVoices, loadLinesFile, type LinesConfig } from './lines-file.js';
import { Room } from './room.js';
import { RoomTokens } from './tokens.js';
import type { CallRecorder } from '../../recording/index.js';

export { Room } from './room.js';
export { RoomTokens } from './tokens.js';
export { loadLinesFile, parseLines, LinesConfigError, type LineConfig, type LinesConfig } from './lines-file.js';

export const LINE_MODE = 'line';

/** What the two-party lines need of the configuration, resolved in the root (src/compose/line-settings.ts). */
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
  /** The REST client's credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_BASE_URL). */
  rest: { accountSid: string | undefined; authToken: string | undefined; baseUrl: string | undefined };
}

export interface LineOptions {
  /** Already-loaded lines (tests); default: LINES_CONFIG. */
  lines?: LinesConfig;
  /** REST calls (default: the twilio client from TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_API_BASE_URL). */
  control?: CallControl;
  /** Receives the room registry (tests, diagnostics). */
  onRooms?: (rooms: ReadonlyMap<string, Room>) => void;
}

type ExtendCtx = { log: Logger; profile: MaskingProfile; calls: CallManager; rateLimit: RequestHandler; recordings?: CallRecorder | undefined };

/** The `extend` hook of startServer for two-party lines. Throws at start-up on a bad lines file. */
export function lineExtension(settings: LineSettings, opts: LineOptions = {}) {
  return ({ log: rootLog, profile, calls, rateLimit, recordings }: ExtendCtx): { routers: Router[]; routes: Record<string, CallRoute> } => {
    const log = rootLog.child({ component: 'line' });
    const s = settings;
    if (!opts.lines && !s.linesFile) throw new Error('lineExtension: LINES_CONFIG is not set');
    const lines = opts.lines ?? loadLinesFile(s.linesFile!, { mask: s.mask, dialTimeoutS: s.dialTimeoutS });
    checkLineVoices(lines, (id) => profile.voices.isValid(id), () => profile.voices.describe());
    const control = opts.control ?? twilioCallControl(createTwilioClient(s.rest), log);
    const tokens = new RoomTokens(s.roomSecret);
    const rooms = new Map<string, Room>();
    /** The TwiML each customer call was answered with, by CallSid: a replayed webhook gets it again. */
    const answered = new Map<string, string>();
    opts.onRooms?.(rooms);
    log.info({ file: lines.file, lines: [...lines.lines.keys()].map(maskPhone) }, 'two-party lines loaded');

    const templates = {
      line: TwimlTemplate.load('line', ['stream']),
      unknown: TwimlTemplate.load('line-unknown'),
      busy: TwimlTemplate.load('line-busy'),
      noAnswer: TwimlTemplate.load('line-no-answer'),
      agent: TwimlTemplate.load('agent', ['stream']),
      agentGone: TwimlTemplate.load('agent-gone'),
    };
    const noAnswerTwiml = templates.noAnswer.render({}).replace(/^<\?xml[^>]*\?>\s*/, '').trim();

    const instanceBase = (req: Request) => publicBase(req, s.instanceUrl ?? s.publicUrl);
    const form = (req: Request) => (req.body ?? {}) as Record<string, string | undefined>;
    const twiml = (res: express.Response, body: string) => res.type('text/xml').send(body);

    const router = express.Router();
    router.use(['/twiml/line', '/twiml/agent', '/twiml/agent-status'], [
      rateLimit,
      webhookBody,
    ]);
    // The customer's webhook may arrive through a load balancer (PUBLIC_URL or the request's host);
    // the agent's webhooks come to this instance's own URL.
    router.post('/twiml/line', twilioSignatureGuard(s.authToken, s.publicUrl, log), (req, res) => {
      const { CallSid: callSid, To: to, From: from } = form(req);
      const line = lines.get(to);
      if (!line || !callSid || !/^CA[0-9a-zA-Z]{1,64}$/.test(callSid)) {
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
      const id = RoomTokens.newRoomId();
      const base = instanceBase(req);
      const hookToken = tokens.sign(id, 'agent-webhook');
      const qs = `room=${id}&token=${hookToken}`;
      const room = new Room(id, line, session, {
        profile,
        control,
        voiceCycle: line.voices ?? profile.voiceCycle,
        agentVoiceKeys: s.agentVoiceKeys,
        agentUrls: { url: `${base}/twiml/agent?${qs}`, statusCallback: `${base}/twiml/agent-status?${qs}` },
        noAnswerTwiml,
        recording: recordings?.start(session, { kind: 'line', line, caller: from }), // recording: line.record (lines file) decides
      });
      rooms.set(id, room);
      session.onClose(() => {
        rooms.delete(id);
        answered.delete(callSid);
      });
      room.log.info({ callSid, from: maskPhone(from) }, 'line call: answering with the customer stream');
      const stream = connectStream(
        toWebSocketBase(base) + MEDIA_PATH,
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

    router.post('/twiml/agent', agentGuard, (req, res) => {
      const room = agentRoom(req, res);
      if (room === undefined) return;
      const callSid = form(req).CallSid;
      if (!room || !room.acceptsAgent || !callSid || !/^CA[0-9a-zA-Z]{1,64}$/.test(callSid)) {
        log.info({ callSid, room: (req.query.room as string).slice(0, 8) }, 'agent answered a call that was taken or has ended');
        return twiml(res, templates.agentGone.render({}));
      }
      room.log.info({ agentCallSid: callSid }, 'agent answered: opening the agent stream');
      const stream = connectStream(
        toWebSocketBase(instanceBase(req)) + MEDIA_PATH,
        { mode: LINE_MODE, room: room.id, role: 'agent', token: tokens.sign(room.id, 'agent', callSid) },
        'agent',
      );
      twiml(res, templates.agent.render({}, { stream }));
    });

    router.post('/twiml/agent-status', agentGuard, (req, res) => {
      const room = agentRoom(req, res);
      if (room === undefined) return;
      const { CallSid: callSid, CallStatus: status } = form(req);
      if (room && callSid && status) room.onAgentStatus(callSid, status);
      res.status(204).end();
    });

    const route: CallRoute = (conn, start, streamLog) => {
      const { room: id, role, token } = start.customParameters;
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

    return { routers: [router], routes: { [LINE_MODE]: route } };
  };
}
