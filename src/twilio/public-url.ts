/**
 * The external base URL of this bridge, as Twilio sees it, and who is asking. Signatures are
 * computed by Twilio over that URL, so they are checked against it too (behind a TLS-terminating
 * proxy the server itself sees plain http).
 *
 * Forwarded headers (X-Forwarded-For, -Host, -Proto) are believed only from a trusted proxy
 * (TRUST_PROXY): from anyone else they are removed at the door (TrustProxy.scrub), so every
 * reader after it (the signature checks, the TwiML's stream URL, the rate limits) sees only
 * headers a proxy of ours set.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TrustProxySetting } from '../config/env.js';

/** PUBLIC_URL when set; otherwise X-Forwarded-Proto/-Host, then Host. */
export function publicBase(req: IncomingMessage, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = first(req.headers['x-forwarded-proto']) ?? (encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto === 'https' || proto === 'wss' ? 'https' : 'http'}://${host}`;
}

/** The public addresses this instance is configured with. */
export interface PublicUrls {
  /** PUBLIC_URL: the address Twilio is given for the number's webhook and hotline streams. */
  publicUrl?: string;
  /** INSTANCE_URL: this instance's own address (two-party streams and agent webhooks). */
  instanceUrl?: string;
}

/**
 * Every base URL a request to this instance may have been signed over: the public base
 * (PUBLIC_URL, or the request's host when unset) and INSTANCE_URL. Twilio signs the URL it
 * requested, and a WebSocket upgrade cannot say which of the Stream urls we handed out it
 * came for (hotline streams name the public base, two-party streams this instance), so a
 * signature valid for either is accepted: both are ours.
 */
export function signatureBases(req: IncomingMessage, urls: PublicUrls): string[] {
  const bases = [publicBase(req, urls.publicUrl)];
  const inst = urls.instanceUrl?.replace(/\/+$/, '');
  if (inst && !bases.includes(inst)) bases.push(inst);
  return bases;
}

/** https -> wss, http -> ws. */
export function toWebSocketBase(httpBase: string): string {
  return httpBase.replace(/^http/, 'ws');
}

/** 192.0.2.1 for ::ffff:192.0.2.1 (a dual-stack socket's view of an IPv4 peer). */
function plainAddress(a: string): string {
  return /^::ffff:\d{1,3}(\.\d{1,3}){3}$/i.test(a) ? a.slice(7) : a;
}

const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']],
  linklocal: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']],
  uniquelocal: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']],
};

const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'forwarded'] as const;

/**
 * TRUST_PROXY applied: which peers are proxies of ours, the client address behind them
 * (X-Forwarded-For read right to left through trusted hops, as Express's `trust proxy` does),
 * and the removal of forwarded headers nobody trusted set.
 */
export class TrustProxy {
  private readonly list: BlockList | undefined;

  constructor(private readonly setting: TrustProxySetting = { kind: 'none' }) {
    if (setting.kind !== 'list') return;
    const list = new BlockList();
    for (const e of setting.entries) {
      const named = NAMED_RANGES[e];
      if (named) {
        for (const [net, prefix, type] of named) list.addSubnet(net, prefix, type);
        continue;
      }
      const [addr = '', prefix] = e.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) list.addAddress(plainAddress(addr), type);
      else list.addSubnet(plainAddress(addr), Number(prefix), type);
    }
    this.list = list;
  }

  /** Whether `address`, `hop` proxies away from us (0: the socket's peer), is a proxy of ours. */
  trusts(address: string | undefined, hop: number): boolean {
    if (!address) return false;
    switch (this.setting.kind) {
      case 'none':
        return false;
      case 'all':
        return true;
      case 'hops':
        return hop < this.setting.hops;
      case 'list': {
        const a = plainAddress(address);
        const family = isIP(a);
        return family !== 0 && this.list!.check(a, family === 6 ? 'ipv6' : 'ipv4');
      }
    }
  }

  /** Whether the socket's peer is a proxy whose forwarded headers are believed. */
  believesPeer(req: IncomingMessage): boolean {
    return this.trusts(req.socket.remoteAddress, 0);
  }

  /**
   * The client's address: the socket's peer, or, through trusted proxies, the nearest
   * X-Forwarded-For entry no proxy of ours added.
   */
  clientAddress(req: IncomingMessage): string {
    let addr = plainAddress(req.socket.remoteAddress ?? 'unknown');
    if (!this.trusts(addr, 0)) return addr;
    const raw = req.headers['x-forwarded-for'];
    const chain = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((s) => s.trim()).filter(Boolean).reverse();
    for (let i = 0; i < chain.length; i++) {
      const next = plainAddress(chain[i]!);
      if (isIP(next) === 0) break; // garbage a client wrote: the last proxy's view stands
      addr = next;
      if (!this.trusts(addr, i + 1)) break;
    }
    return addr;
  }

  /** Removes the forwarded headers of a peer that is not a proxy of ours (they are the client's own words). */
  scrub(req: IncomingMessage): void {
    if (this.believesPeer(req)) return;
    for (const h of FORWARDED_HEADERS) delete req.headers[h];
  }

  /** For Express's `trust proxy` setting: the same rule. */
  readonly expressTrust = (address: string, hop: number): boolean => this.trusts(address, hop);
}

/**
 * The key a client is counted under: its address, or for IPv6 its /64 (one subscriber's
 * network: rotating addresses inside it does not open new buckets).
 */
export function clientKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
