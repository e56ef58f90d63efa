/**
 * The part of TwiML a Media Streams client needs: the <Connect><Stream url> and its <Parameter>s.
 * A small tolerant XML scan (attributes in either quote style, entities decoded), not a regex
 * over the whole document.
 */
import { SimulatorError } from './errors.js';

export interface StreamTwiml {
  /** The Stream url exactly as the TwiML gives it (entities decoded). */
  url: string;
  /** Stream name attribute, when present. */
  name?: string;
  /** <Parameter name value> pairs in document order (later duplicates win). */
  parameters: Record<string, string>;
  /** 'connect' for <Connect><Stream> (bidirectional), 'start' for <Start><Stream> (unidirectional). */
  verb: 'connect' | 'start';
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeXmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[body] ?? whole;
  });
}

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  attrs: Record<string, string>;
}

function* tags(xml: string): Generator<Tag> {
  // Strip comments, CDATA and processing instructions first: they never carry Stream elements.
  const text = xml.replace(/<!--[\s\S]*?-->/g, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const tagRe = /<\s*(\/?)\s*([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)\s*>/g;
  const attrRe = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (let m = tagRe.exec(text); m; m = tagRe.exec(text)) {
    const attrs: Record<string, string> = {};
    for (let a = attrRe.exec(m[3] ?? ''); a; a = attrRe.exec(m[3] ?? '')) {
      attrs[a[1]!] = decodeXmlEntities(a[2] ?? a[3] ?? '');
    }
    attrRe.lastIndex = 0;
    yield { name: m[2]!, closing: m[1] === '/', selfClosing: m[4] === '/', attrs };
  }
}

/** Finds the first <Stream> inside <Connect> (or <Start>) and its <Parameter>s. Throws SimulatorError('bad-twiml'). */
export function parseStreamTwiml(xml: string): StreamTwiml {
  if (!/<\s*Response[\s>/]/.test(xml)) throw new SimulatorError('bad-twiml', 'TwiML has no <Response> element');
  const stack: string[] = [];
  let found: StreamTwiml | undefined;
  let inStream = false;
  for (const t of tags(xml)) {
    if (t.closing) {
      const i = stack.lastIndexOf(t.name);
      if (i >= 0) stack.length = i;
      if (t.name === 'Stream' && inStream) return found!;
      continue;
    }
    if (t.name === 'Stream' && !found) {
      const parent = stack[stack.length - 1];
      if (parent !== 'Connect' && parent !== 'Start') continue;
      const url = t.attrs['url'];
      if (!url) throw new SimulatorError('bad-twiml', '<Stream> has no url attribute');
      found = { url, parameters: {}, verb: parent === 'Connect' ? 'connect' : 'start' };
      if (t.attrs['name'] !== undefined) found.name = t.attrs['name'];
      if (t.selfClosing) return found;
      inStream = true;
    } else if (t.name === 'Parameter' && inStream && found) {
      const name = t.attrs['name'];
      if (name !== undefined) found.parameters[name] = t.attrs['value'] ?? '';
    }
    if (!t.selfClosing) stack.push(t.name);
  }
  if (found) return found;
  throw new SimulatorError('bad-twiml', 'TwiML has no <Connect><Stream url="..."> element');
}
