import { describe, expect, it } from 'vitest';
import { decodeXmlEntities, parseStreamTwiml, resolveStreamTarget, SimulatorError } from '../../../../tools/sim/index.js';

describe('parseStreamTwiml', () => {
  it('reads the Stream url and Parameters, decoding entities', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
      <Response>
        <!-- <Connect><Stream url="wss://commented.out/x"/></Connect> -->
        <Say>Connecting &amp; masking</Say>
        <Connect>
          <Stream url="wss://bridge.example.com/media?x=1&amp;y=2" name='main'>
            <Parameter name="voice" value="deep-male" />
            <Parameter name='note' value='a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#x27; &#x1F600;'/>
            <Parameter name="empty" value=""/>
          </Stream>
        </Connect>
        <Parameter name="outside" value="ignored"/>
      </Response>`;
    const t = parseStreamTwiml(xml);
    expect(t.url).toBe('wss://bridge.example.com/media?x=1&y=2');
    expect(t.name).toBe('main');
    expect(t.verb).toBe('connect');
    expect(t.parameters).toEqual({ voice: 'deep-male', note: `a & b <c> "d" 'e' \u{1F600}`, empty: '' });
  });

  it('accepts a self-closing Stream and <Start><Stream>', () => {
    expect(parseStreamTwiml('<Response><Connect><Stream url="wss://h/m"/></Connect></Response>')).toEqual({ url: 'wss://h/m', parameters: {}, verb: 'connect' });
    expect(parseStreamTwiml('<Response><Start><Stream url="wss://h/m"></Stream></Start></Response>').verb).toBe('start');
  });

  it('rejects documents without a usable stream', () => {
    for (const bad of ['not xml at all', '<Response><Say>hi</Say></Response>', '<Response><Connect><Stream name="x"/></Connect></Response>', '<Response><Stream url="wss://h/m"/></Response>']) {
      expect(() => parseStreamTwiml(bad)).toThrow(SimulatorError);
    }
  });

  it('leaves unknown entities alone', () => {
    expect(decodeXmlEntities('&nbsp;&amp;&#65;')).toBe('&nbsp;&A');
  });
});

describe('resolveStreamTarget', () => {
  it('follows a loopback Stream url exactly', () => {
    expect(resolveStreamTarget('ws://127.0.0.1:9000/media', 'http://127.0.0.1:9000')).toMatchObject({
      connectUrl: 'ws://127.0.0.1:9000/media',
      signedUrl: 'ws://127.0.0.1:9000/media',
    });
  });

  it('connects to the local host but signs over the public Stream url', () => {
    const r = resolveStreamTarget('wss://voice.example.com/media', 'http://127.0.0.1:8080');
    expect(r.connectUrl).toBe('ws://127.0.0.1:8080/media');
    expect(r.signedUrl).toBe('wss://voice.example.com/media');
    expect(r.warnings).toEqual([]);
  });

  it('drops a query string, as Twilio does, and warns', () => {
    const r = resolveStreamTarget('wss://h.example/media?voice=x', 'https://h.example');
    expect(r.connectUrl).toBe('wss://h.example/media');
    expect(r.signedUrl).toBe('wss://h.example/media');
    expect(r.warnings[0]).toMatch(/query string/);
  });

  it('rejects non-WebSocket urls', () => {
    expect(() => resolveStreamTarget('https://h/media', 'http://h')).toThrow(/wss/);
    expect(() => resolveStreamTarget('/media', 'http://h')).toThrow(/absolute/);
  });
});
