/**
 * TwiML as a tree of elements: a small tolerant XML reader (comments, CDATA, processing
 * instructions, entities, either quote style). Enough for the verbs a phone executes; not a
 * validating parser: unknown markup is kept as elements and skipped by the runner.
 */

export interface TwimlElement {
  name: string;
  attrs: Record<string, string>;
  children: TwimlElement[];
  /** The element's own text (entities decoded, trimmed). */
  text: string;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body[0] !== '#') return NAMED[body] ?? whole;
    const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** Parses a TwiML document; returns the <Response> element. Throws when there is none. */
export function parseTwiml(xml: string): TwimlElement {
  const text = xml.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '').replace(/<!DOCTYPE[^>]*>/gi, '');
  const root: TwimlElement = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const tokenRe = /<!\[CDATA\[([\s\S]*?)\]\]>|<\s*(\/?)\s*([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)\s*>|([^<]+)/g;
  const attrRe = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (let m = tokenRe.exec(text); m; m = tokenRe.exec(text)) {
    const top = stack[stack.length - 1]!;
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) top.text += decodeEntities(m[6]);
    else if (m[2] === '/') {
      const i = stack.map((e) => e.name).lastIndexOf(m[3]!);
      if (i > 0) stack.length = i;
    } else {
      const el: TwimlElement = { name: m[3]!, attrs: {}, children: [], text: '' };
      for (let a = attrRe.exec(m[4] ?? ''); a; a = attrRe.exec(m[4] ?? '')) el.attrs[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '');
      attrRe.lastIndex = 0;
      top.children.push(el);
      if (m[5] !== '/') stack.push(el);
    }
  }
  const trim = (e: TwimlElement) => {
    e.text = e.text.trim();
    e.children.forEach(trim);
  };
  trim(root);
  const response = root.children.find((e) => e.name === 'Response');
  if (!response) throw new Error('TwiML has no <Response> element');
  return response;
}
