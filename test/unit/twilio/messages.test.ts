import { describe, expect, it } from 'vitest';
import { parseInbound, ProtocolError, serializeClear, serializeMark, serializeMedia } from '../../../src/twilio/messages.js';

const SID = 'MZ' + 'a'.repeat(32);
const CALL = 'CA' + 'b'.repeat(32);
const start = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: SID,
    start: {
      accountSid: 'AC' + 'c'.repeat(32),
      streamSid: SID,
      callSid: CALL,
      tracks: ['inbound'],
      customParameters: { voice: 'deep-male' },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      ...over,
    },
  });

const reasonOf = (text: string) => {
  try {
    parseInbound(text);
  } catch (e) {
    return (e as ProtocolError).reason;
  }
  return 'accepted';
};

describe('Twilio Media Streams messages', () => {
  it('parses start with its custom parameters', () => {
    const ev = parseInbound(start());
    expect(ev).toEqual({
      event: 'start',
      start: { streamSid: SID, callSid: CALL, accountSid: 'AC' + 'c'.repeat(32), customParameters: { voice: 'deep-male' } },
    });
  });

  it('decodes media payloads and numeric strings', () => {
    const payload = Buffer.from([1, 2, 3, 255]).toString('base64');
    const ev = parseInbound(JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid: SID, media: { track: 'inbound', chunk: '1', timestamp: '5', payload } }));
    expect(ev.event).toBe('media');
    if (ev.event !== 'media') return;
    expect(Array.from(ev.payload)).toEqual([1, 2, 3, 255]);
    expect(ev.timestampMs).toBe(5);
    expect(ev.chunk).toBe(1);
  });

  it('parses dtmf, mark, stop and connected', () => {
    expect(parseInbound(JSON.stringify({ event: 'dtmf', streamSid: SID, sequenceNumber: '3', dtmf: { track: 'inbound_track', digit: '#' } }))).toEqual({ event: 'dtmf', streamSid: SID, digit: '#' });
    expect(parseInbound(JSON.stringify({ event: 'mark', streamSid: SID, sequenceNumber: '4', mark: { name: 'phrase-1' } }))).toEqual({ event: 'mark', streamSid: SID, name: 'phrase-1' });
    expect(parseInbound(JSON.stringify({ event: 'stop', streamSid: SID, sequenceNumber: '5', stop: { accountSid: 'AC1', callSid: CALL } }))).toEqual({ event: 'stop', streamSid: SID });
    expect(parseInbound('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({ event: 'connected' });
  });

  it('refuses malformed input with a reason', () => {
    expect(reasonOf('not json')).toBe('not-json');
    expect(reasonOf('{"event":"hello"}')).toBe('unknown-event');
    expect(reasonOf('[]')).toBe('unknown-event');
    expect(reasonOf(JSON.stringify({ event: 'media', streamSid: SID, media: { payload: '***' } }))).toBe('invalid-message');
    expect(reasonOf(JSON.stringify({ event: 'media', streamSid: 'nope', media: { payload: 'AA==' } }))).toBe('invalid-message');
    expect(reasonOf(JSON.stringify({ event: 'dtmf', streamSid: SID, dtmf: { digit: '12' } }))).toBe('invalid-message');
    expect(reasonOf(start({ mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 } }))).toBe('bad-media-format');
  });

  it('names the offending field in the message', () => {
    expect(() => parseInbound(JSON.stringify({ event: 'start', streamSid: SID, start: { streamSid: SID } }))).toThrow(/invalid start message: start\.callSid/);
  });

  it('serializes what Twilio accepts', () => {
    expect(JSON.parse(serializeMedia(SID, new Uint8Array([255, 0])))).toEqual({ event: 'media', streamSid: SID, media: { payload: '/wA=' } });
    expect(JSON.parse(serializeMark(SID, 'phrase-1'))).toEqual({ event: 'mark', streamSid: SID, mark: { name: 'phrase-1' } });
    expect(JSON.parse(serializeClear(SID))).toEqual({ event: 'clear', streamSid: SID });
  });
});

describe('Twilio Media Streams messages: bounds', () => {
  it('refuses a media payload far beyond a 20 ms frame, and a start whose two streamSids differ', () => {
    const big = Buffer.alloc(4000).toString('base64');
    expect(() => parseInbound(JSON.stringify({ event: 'media', streamSid: SID, media: { payload: big } }))).toThrow(/payload longer than 4096/);
    const ok = Buffer.alloc(1600).toString('base64'); // 200 ms: accepted
    expect(parseInbound(JSON.stringify({ event: 'media', streamSid: SID, media: { payload: ok } })).event).toBe('media');
    const other = 'MZ' + 'e'.repeat(32);
    const mismatched = JSON.parse(start()) as { streamSid: string };
    mismatched.streamSid = other;
    expect(() => parseInbound(JSON.stringify(mismatched))).toThrow(/streamSid differs/);
  });
});
