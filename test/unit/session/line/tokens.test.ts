import { describe, expect, it } from 'vitest';
import { RoomTokens } from '../../../../src/session/line/tokens.js';

describe('room ids and tokens', () => {
  it('room ids are 128 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => RoomTokens.newRoomId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(RoomTokens.isRoomId('../etc/passwd')).toBe(false);
    expect(RoomTokens.isRoomId(undefined)).toBe(false);
  });

  it('a token admits only its room, role and call', () => {
    const t = new RoomTokens();
    const room = RoomTokens.newRoomId();
    const other = RoomTokens.newRoomId();
    const tok = t.sign(room, 'customer', 'CA1');
    expect(t.verify(room, 'customer', tok, 'CA1')).toBe(true);
    expect(t.verify(other, 'customer', tok, 'CA1')).toBe(false); // another room
    expect(t.verify(room, 'agent', tok, 'CA1')).toBe(false); // another role
    expect(t.verify(room, 'customer', tok, 'CA2')).toBe(false); // another call
    expect(t.verify(room, 'customer', tok.slice(0, -1) + (tok.endsWith('A') ? 'B' : 'A'), 'CA1')).toBe(false);
    expect(t.verify(room, 'customer', '', 'CA1')).toBe(false);
    expect(t.verify(room, 'customer', undefined, 'CA1')).toBe(false);
    expect(t.verify(room, 'customer', ['x'], 'CA1')).toBe(false);
    expect(t.verify(room, 'customer', 'x'.repeat(10_000), 'CA1')).toBe(false);
    expect(t.verify('not-a-room', 'customer', t.sign('not-a-room', 'customer', 'CA1'), 'CA1')).toBe(false);
  });

  it('another process (another secret) cannot forge or accept tokens; a shared secret can', () => {
    const room = RoomTokens.newRoomId();
    const a = new RoomTokens();
    const b = new RoomTokens();
    expect(b.verify(room, 'agent-webhook', a.sign(room, 'agent-webhook'))).toBe(false);
    const secret = 's'.repeat(40);
    expect(new RoomTokens(secret).verify(room, 'agent', new RoomTokens(secret).sign(room, 'agent', 'CA9'), 'CA9')).toBe(true);
  });
});
