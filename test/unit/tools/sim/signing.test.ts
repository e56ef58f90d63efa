import { createHmac } from 'node:crypto';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { twilioSignature } from '../../../../tools/sim/index.js';

describe('twilioSignature', () => {
  const token = '12345';
  it('matches twilio.validateRequest for a webhook with params', () => {
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    const sig = twilioSignature(token, url, params);
    // Independent computation: HMAC-SHA1 over url + params sorted by name, name then value.
    const data = url + Object.keys(params).sort().map((k) => k + params[k as keyof typeof params]).join('');
    expect(sig).toBe(createHmac('sha1', token).update(data).digest('base64'));
    expect(twilio.validateRequest(token, sig, url, params)).toBe(true);
    expect(twilio.validateRequest(token, sig, url, { ...params, Digits: '9' })).toBe(false);
  });

  it('signs a WebSocket upgrade over the bare wss URL', () => {
    const sig = twilioSignature(token, 'wss://voice.example.com/media');
    expect(twilio.validateRequest(token, sig, 'wss://voice.example.com/media', {})).toBe(true);
    expect(twilio.validateRequest(token, sig, 'ws://voice.example.com/media', {})).toBe(false);
  });
});
