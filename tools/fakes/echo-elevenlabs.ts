/**
 * A fake ElevenLabs speech-to-speech server for the delay benchmark, written from the API
 * reference (/work/shared/spec): POST {base}/v1/speech-to-speech/{voice}/stream with a multipart
 * `audio` part (pcm_s16le_16) answers 200 audio/basic (ulaw_8000) after `ttfbMs`, with audio as
 * long as the input. Its answer is the input itself (8 kHz mu-law), so the benchmark can tell
 * which words each played sample carries. Every request is kept (audio in, bytes out, times).
 * It imports nothing from src/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulawEncode } from './g711.js';
import { parseMultipart } from './multipart.js';

export interface EchoRequest {
  /** The request's audio at 8 kHz (every other 16 kHz sample). */
  pcm8k: Int16Array;
  reply: Uint8Array;
  receivedAt: number;
  /** The status answered (200, or the injected failure). */
  status: number;
  /** The client went away before the answer was complete (a cancelled request). */
  cancelled: boolean;
  closedAt?: number;
}

export interface EchoConverter {
  baseUrl: string;
  requests: EchoRequest[];
  close(): Promise<void>;
}

export interface EchoOptions {
  ttfbMs: number;
  /** Fault injection: the status to answer request n (0-based) with instead of 200. */
  failStatus?: (n: number) => number | undefined;
}

export async function startEchoConverter(opts: EchoOptions): Promise<EchoConverter> {
  const requests: EchoRequest[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const form = parseMultipart(Buffer.concat(parts), req.headers['content-type']);
      const audio = form?.find((p) => p.name === 'audio');
      if (!req.url?.includes('/v1/speech-to-speech/') || !audio) {
        res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: { status: 'invalid_request', message: 'audio missing' } }));
        return;
      }
      const pcm16 = new Int16Array(audio.data.buffer.slice(audio.data.byteOffset, audio.data.byteOffset + (audio.data.byteLength & ~1)));
      const pcm8k = new Int16Array(pcm16.length >> 1);
      for (let i = 0; i < pcm8k.length; i++) pcm8k[i] = pcm16[2 * i]!;
      const reply = mulawEncode(pcm8k);
      const status = opts.failStatus?.(requests.length) ?? 200;
      const rec: EchoRequest = { pcm8k, reply: status === 200 ? reply : new Uint8Array(0), receivedAt: performance.now(), status, cancelled: false };
      requests.push(rec);
      let done = false;
      const t = setTimeout(() => {
        done = true;
        if (status !== 200) {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: { status: 'internal_error', message: 'injected failure' } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'audio/basic' });
        res.end(Buffer.from(reply));
      }, opts.ttfbMs);
      res.on('close', () => {
        clearTimeout(t);
        rec.closedAt = performance.now();
        if (!done) rec.cancelled = true;
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
