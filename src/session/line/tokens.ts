/**
 * Room ids and the tokens that let a stream join a room.
 *
 * A room id is 128 random bits: it cannot be guessed. A token is HMAC-SHA256 over the room
 * id, the role and (for streams) the CallSid of the leg it was issued to, keyed with a
 * secret that never leaves this process: it cannot be forged, and a token issued to one
 * room, role or call is refused for any other. Compared in constant time.
 *
 * The secret is LINE_ROOM_SECRET when set, else random per process. Random is enough: a
 * room lives in one process only (both legs are sent to the instance that holds it).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Who a token admits: a customer's stream, an agent's call webhooks, or an agent's stream. */
export type TokenRole = 'customer' | 'agent-webhook' | 'agent';

const ROOM_ID = /^[0-9a-f]{32}$/;

export class RoomTokens {
  private readonly key: Buffer;

  constructor(secret?: string) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  /** 128 random bits, hex. */
  static newRoomId(): string {
    return randomBytes(16).toString('hex');
  }

  static isRoomId(v: unknown): v is string {
    return typeof v === 'string' && ROOM_ID.test(v);
  }

  sign(roomId: string, role: TokenRole, callSid = ''): string {
    return createHmac('sha256', this.key).update(`voice-mask/room/v1\n${roomId}\n${role}\n${callSid}`).digest('base64url');
  }

  verify(roomId: unknown, role: TokenRole, token: unknown, callSid = ''): boolean {
    if (!RoomTokens.isRoomId(roomId) || typeof token !== 'string' || token.length > 128) return false;
    const expected = Buffer.from(this.sign(roomId, role, callSid));
    const given = Buffer.from(token);
    // Length leaks nothing: every valid token has the same length.
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
