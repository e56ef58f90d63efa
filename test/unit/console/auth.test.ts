/** The console's session cookie, CSRF token and sign-in limiter; its labels, outcomes and finished-call buffer. */
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ConsoleAuth, FinishedCalls, label, outcomeOf, SignInLimiter } from '../../../src/console/index.js';

const TOKEN = 'unit-console-token-0123456789abcdef01234';
const req = (headers: Record<string, string>) => ({ headers, header: (n: string) => headers[n.toLowerCase()] }) as unknown as Request;
const withCookie = (value: string, extra: Record<string, string> = {}) => req({ cookie: `other=1; vm_console=${value}`, host: 'bridge.test', ...extra });

describe('console sessions', () => {
  it('accepts its own cookie until it expires; refuses forged, altered, expired and signed-out ones', () => {
    let now = 1_000_000;
    const auth = new ConsoleAuth(TOKEN, { now: () => now });
    const { value, session } = auth.issue();
    expect(auth.session(withCookie(value))).toEqual(session);
    const [v, exp, nonce, mac] = value.split('.');
    expect(auth.session(withCookie(`${v}.${Number(exp) + 1000}.${nonce}.${mac}`))).toBeUndefined();
    expect(auth.session(withCookie(`${v}.${exp}.${nonce}x.${mac}`))).toBeUndefined();
    expect(auth.session(withCookie('garbage'))).toBeUndefined();
    expect(auth.session(req({}))).toBeUndefined();
    // Another token (a rotated ADMIN_TOKEN) signs every session out.
    expect(new ConsoleAuth(`${TOKEN}-rotated`, { now: () => now }).session(withCookie(value))).toBeUndefined();
    now = session.expires;
    expect(auth.session(withCookie(value))).toBeUndefined();
    now = 1_000_000;
    auth.revoke(session);
    expect(auth.session(withCookie(value))).toBeUndefined();
  });

  it('checks the token exactly, and the CSRF token and origin of actions', () => {
    const auth = new ConsoleAuth(TOKEN, {});
    expect(auth.checkToken(TOKEN)).toBe(true);
    for (const t of [`${TOKEN} `, TOKEN.slice(1), '', undefined, 42, ['x']]) expect(auth.checkToken(t)).toBe(false);
    const { value, session } = auth.issue();
    const ok = withCookie(value, { 'x-csrf-token': session.csrf, origin: 'http://bridge.test' });
    expect(auth.checkAction(ok, session)).toBe(true);
    expect(auth.checkAction(withCookie(value, { 'x-csrf-token': session.csrf }), session)).toBe(true);
    expect(auth.checkAction(withCookie(value, { 'x-csrf-token': 'x', origin: 'http://bridge.test' }), session)).toBe(false);
    expect(auth.checkAction(withCookie(value, { 'x-csrf-token': session.csrf, origin: 'http://evil.test' }), session)).toBe(false);
    expect(auth.checkAction(withCookie(value, { 'x-csrf-token': session.csrf, 'sec-fetch-site': 'cross-site' }), session)).toBe(false);
    // Another session's CSRF token is not this one's.
    expect(auth.checkAction(withCookie(value, { 'x-csrf-token': auth.issue().session.csrf }), session)).toBe(false);
  });

  it('limits failed sign-ins per client within a minute; past the limit every attempt waits', () => {
    let now = 0;
    const l = new SignInLimiter(3, () => now);
    for (let i = 0; i < 3; i++) {
      expect(l.check('a')).toBeNull();
      l.failed('a');
    }
    expect(l.check('a')).toBe(60);
    expect(l.check('b')).toBeNull();
    now = 30_000;
    expect(l.check('a')).toBe(30);
    now = 60_000;
    expect(l.check('a')).toBeNull();
  });

  it('makes the cookie Secure for requests that came over https', () => {
    const auth = new ConsoleAuth(TOKEN, { httpsHost: 'bridge.example.com' });
    const cookieOf = (headers: Record<string, string>) => {
      let options: { secure?: boolean } = {};
      auth.setCookie(req(headers), { cookie: (_n: string, _v: string, o: { secure?: boolean }) => (options = o) } as never, 'v');
      return options.secure;
    };
    expect(cookieOf({ host: 'bridge.example.com' })).toBe(true);
    expect(cookieOf({ host: '127.0.0.1:8080', 'x-forwarded-proto': 'https' })).toBe(true);
    expect(cookieOf({ host: '127.0.0.1:8080' })).toBe(false);
  });
});

describe('console views', () => {
  it('masks numbers in ids and lines, keeps names', () => {
    expect(label('+14155550100')).toBe('+*******0100');
    expect(label('alice')).toBe('alice');
    expect(label('sip:bob@pbx.example.com')).toBe('sip:bob@pbx.example.com');
    expect(label('client:4155550100')).not.toContain('415555');
  });

  it('names outcomes as operators do', () => {
    expect(outcomeOf('caller hung up', 'hotline', undefined)).toBe('completed');
    expect(outcomeOf('operator', 'line', 'connected')).toBe('ended by operator');
    expect(outcomeOf('customer-hung-up', 'line', 'waiting')).toBe('abandoned');
    expect(outcomeOf('customer-hung-up', 'line', 'connected')).toBe('completed');
    expect(outcomeOf('queue-timeout', 'line', 'waiting')).toBe('no agent in time');
    expect(outcomeOf('internal error', 'hotline', undefined)).toBe('error');
    expect(outcomeOf('shutdown', 'line', 'waiting')).toBe('shutdown');
  });

  it('keeps the last 100 finished calls, newest first', () => {
    const f = new FinishedCalls();
    for (let i = 0; i < 130; i++) f.add({ id: `CA${i}`, kind: 'hotline', outcome: 'completed', endedAt: i, durationS: 1 });
    const list = f.list();
    expect(list).toHaveLength(100);
    expect(list[0]!.id).toBe('CA129');
    expect(list.at(-1)!.id).toBe('CA30');
  });
});
