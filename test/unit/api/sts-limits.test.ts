/**
 * What an API key holder can make the compatible API hold, over real loopback sockets: the
 * conversion slot is taken before the body is read (a request over the limit is answered 429
 * while its upload is still under way); the form's field count and sizes are tight; a chunked
 * body (no Content-Length) is counted; a /stream client that stops reading is cut after the
 * stall limit and its slot is served to the next request; a decompression bomb is a 422.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localStsEngine } from '../../../src/api/engine.js';
import { createStsRouter } from '../../../src/api/sts-router.js';
import { initResampler } from '../../../src/audio/resampler.js';
import { silentLog } from '../../helpers/phrases.js';
import { BOMBS } from '../../../tools/fakes/bombs.js';

const KEY = 'limits-key';
const VOICE = 'neutral-female';
const BOUNDARY = 'limits-boundary-7d1f';

async function listen(opts: Partial<Parameters<typeof createStsRouter>[0]> = {}) {
  const app = express();
  app.use(createStsRouter({ engine: localStsEngine(), checkKey: (k) => k === KEY, log: silentLog, ...opts }));
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  return {
    port: (s.address() as AddressInfo).port,
    close: async () => {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
  };
}

const fieldPart = (name: string, value: string) => `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const audioHead = () => `--${BOUNDARY}\r\ncontent-disposition: form-data; name="audio"; filename="a.raw"\r\ncontent-type: application/octet-stream\r\n\r\n`;
const tail = () => `\r\n--${BOUNDARY}--\r\n`;

interface Answer {
  status: number;
  body: Buffer;
  /** performance.now() when the status line arrived. */
  at: number;
}

/**
 * A POST written by hand: `head` first, then `rest` (in 64 KB writes, waiting for room), each
 * write only while no answer has come. Without `length`, the body is chunked.
 */
function request(port: number, path: string, head: string | Uint8Array, rest: Uint8Array = new Uint8Array(0), opts: { length?: number; end?: boolean } = {}) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'xi-api-key': KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...(opts.length !== undefined && { 'content-length': String(opts.length) }) },
  });
  let answered = false;
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      answered = true;
      const at = performance.now();
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), at }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
  });
  answer.catch(() => undefined);
  let sentAll = false;
  const sending = (async () => {
    req.write(head);
    for (let o = 0; o < rest.length && !answered && !req.destroyed; o += 65536) {
      if (!req.write(rest.subarray(o, o + 65536))) await new Promise((r) => req.once('drain', r).once('close', r));
    }
    sentAll = !answered;
    if (opts.end !== false && !req.destroyed && !answered) req.end();
  })();
  return { req, answer, sending, sentAll: () => sentAll };
}

beforeAll(() => initResampler());

const servers: Array<{ close: () => Promise<void> }> = [];
afterAll(() => Promise.all(servers.map((s) => s.close())));

describe('compatible API: what a key holder can hold', () => {
  it('takes its slot before reading the body: over the limit, 429 while the upload is still being sent', async () => {
    const s = await listen({ maxConcurrent: 1 });
    servers.push(s);
    // the first request holds the slot, its upload never finishing
    const first = request(s.port, `/v1/speech-to-speech/${VOICE}`, audioHead(), new Uint8Array(1000), { end: false });
    await new Promise((r) => setTimeout(r, 300));
    // the second sends 20 MB: it is answered before it has sent them
    const big = new Uint8Array(20 * 1024 * 1024);
    const second = request(s.port, `/v1/speech-to-speech/${VOICE}`, audioHead(), big, { length: audioHead().length + big.length + tail().length });
    const a = await second.answer;
    expect(a.status).toBe(429);
    expect(JSON.parse(a.body.toString())).toMatchObject({ detail: { status: 'too_many_concurrent_requests' } });
    expect(second.sentAll()).toBe(false);
    second.req.destroy();
    // the slot is freed when the first request ends, however it ends
    first.req.destroy();
    const pcm = new Uint8Array(16000); // 0.5 s of silence
    const t0 = performance.now();
    for (;;) {
      const t = await request(s.port, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, fieldPart('file_format', 'pcm_s16le_16') + audioHead(), Buffer.concat([pcm, Buffer.from(tail())])).answer;
      if (t.status === 200) {
        expect(t.body.length).toBe(pcm.length);
        break;
      }
      expect(t.status).toBe(429);
      expect(performance.now() - t0).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('refuses a form of too many fields, or too long a field, with a 422 naming it', async () => {
    const s = await listen();
    servers.push(s);
    const many = Array.from({ length: 17 }, (_, i) => fieldPart(`f${i}`, 'x')).join('');
    const a = await request(s.port, `/v1/speech-to-speech/${VOICE}`, many + audioHead() + 'abc' + tail()).answer;
    expect(a.status).toBe(422);
    expect(JSON.parse(a.body.toString()).detail[0].msg).toMatch(/more than 16 fields/);
    const long = fieldPart('voice_settings', `{"stability":0.5,"x":"${'y'.repeat(17 * 1024)}"}`);
    const b = await request(s.port, `/v1/speech-to-speech/${VOICE}`, long + audioHead() + 'abc' + tail()).answer;
    expect(b.status).toBe(422);
    expect(JSON.parse(b.body.toString()).detail[0]).toMatchObject({ loc: ['body', 'voice_settings'], msg: expect.stringMatching(/longer than 16 KB/) });
    // the shape: a hundred fields of 1 MB, sent chunked: refused at the first one
    const mb = fieldPart('model_id', 'm'.repeat(1024 * 1024));
    const c = request(s.port, `/v1/speech-to-speech/${VOICE}`, '', Buffer.from(mb.repeat(20)));
    expect((await c.answer).status).toBe(422);
    expect(c.sentAll()).toBe(false);
  });

  it('counts a chunked body: past the limit it is a 413, however it is framed', async () => {
    const s = await listen({ maxBodyBytes: 256 * 1024 });
    servers.push(s);
    // a file part the API ignores carries no audio to measure: the body itself is counted
    const junk = `--${BOUNDARY}\r\ncontent-disposition: form-data; name="other"; filename="x"\r\n\r\n${'z'.repeat(4 * 1024 * 1024)}\r\n`;
    const r = request(s.port, `/v1/speech-to-speech/${VOICE}`, '', Buffer.from(junk));
    const a = await r.answer;
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body.toString())).toMatchObject({ detail: { status: 'payload_too_large' } });
    expect(r.sentAll()).toBe(false);
  });

  it('cuts a /stream client that stops reading for the stall limit, and serves its slot to the next request', async () => {
    const s = await listen({ maxConcurrent: 1, stallMs: 1000 });
    servers.push(s);
    // 90 s in, 90 s of 48 kHz PCM out (8.6 MB): far more than the sockets buffer
    const pcm = new Uint8Array(90 * 16000 * 2);
    const body = Buffer.concat([Buffer.from(fieldPart('file_format', 'pcm_s16le_16') + audioHead()), pcm, Buffer.from(tail())]);
    const stalled = http.request({
      host: '127.0.0.1',
      port: s.port,
      path: `/v1/speech-to-speech/${VOICE}/stream?output_format=pcm_48000`,
      method: 'POST',
      headers: { 'xi-api-key': KEY, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(body.length) },
    });
    stalled.on('error', () => undefined);
    const response = new Promise<http.IncomingMessage>((resolve) => stalled.on('response', resolve));
    stalled.end(body);
    const res = await response;
    expect(res.statusCode).toBe(200);
    res.pause(); // reads nothing more
    const t0 = performance.now();
    // the next request is refused while the stalled one holds the slot, then served
    const small = Buffer.concat([new Uint8Array(16000), Buffer.from(tail())]);
    const statuses: number[] = [];
    for (;;) {
      const a = await request(s.port, `/v1/speech-to-speech/${VOICE}?output_format=pcm_16000`, fieldPart('file_format', 'pcm_s16le_16') + audioHead(), small).answer;
      statuses.push(a.status);
      if (a.status === 200) {
        expect(a.body.length).toBe(16000);
        break;
      }
      expect(a.status).toBe(429);
      expect(performance.now() - t0).toBeLessThan(60_000); // the stall limit, once the masking has filled the sockets' buffers
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(statuses[0]).toBe(429);
    expect(performance.now() - t0).toBeGreaterThan(900); // the stall limit, not sooner
    // the stalled client, reading again, finds its answer cut short
    let got = 0;
    const ended = await new Promise<string>((resolve) => {
      res.on('data', (c: Buffer) => (got += c.length));
      res.on('end', () => resolve(res.complete ? 'complete' : 'cut'));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
      res.resume();
    });
    expect(ended).toBe('cut');
    expect(got).toBeLessThan(90 * 48000 * 2);
  }, 120_000);

  it('answers a decompression bomb with a 422 at body.audio naming the problem', async () => {
    const s = await listen();
    servers.push(s);
    for (const [name, re] of [
      ['ogg-opus-64ch', /64 channels; this server accepts at most 8/],
      ['webm-laced-empty-140k', /empty frame/],
      ['flac-8ch-constant-64k', /longer than 300 s/],
    ] as const) {
      const bomb = BOMBS[name]!();
      const a = await request(s.port, `/v1/speech-to-speech/${VOICE}`, audioHead(), Buffer.concat([bomb, Buffer.from(tail())])).answer;
      expect(a.status, name).toBe(422);
      expect(JSON.parse(a.body.toString()).detail[0], name).toMatchObject({ loc: ['body', 'audio'], msg: expect.stringMatching(re) });
    }
  });
});
