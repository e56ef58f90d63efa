/**
 * A small multipart/form-data reader for the test doubles, written from RFC 7578 / RFC 2046:
 * the body is split on `--boundary` delimiters, each part's headers are read up to the blank
 * line, and its content runs to the CRLF before the next delimiter. Independent of the
 * product's form handling on purpose (tools/fakes import nothing from src/).
 */
export interface FormPart {
  name: string;
  /** Present when the part is a file (Content-Disposition carries filename=). */
  filename?: string;
  /** The part's Content-Type header, when sent. */
  contentType?: string;
  data: Buffer;
}

/** The boundary of a multipart Content-Type, or undefined when it is not multipart. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!/^multipart\/form-data/i.test(contentType ?? '')) return undefined;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m?.[1] ?? m?.[2];
}

function param(head: string, key: string): string | undefined {
  const m = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(head) ?? new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i').exec(head);
  return m?.[1]?.replace(/\\(.)/g, '$1');
}

/** Every part of a multipart body, in order; null when the body is not well-formed multipart. */
export function parseMultipart(body: Buffer, contentType: string | undefined): FormPart[] | null {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return null;
  const delim = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let at = body.indexOf(delim);
  if (at === -1) return null;
  for (;;) {
    const after = at + delim.length;
    if (body.subarray(after, after + 2).toString('latin1') === '--') return parts; // close delimiter
    const headStart = after + 2; // CRLF after the delimiter
    const headEnd = body.indexOf('\r\n\r\n', headStart);
    if (headEnd === -1) return null;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd + 4);
    if (next === -1) return null;
    const headers = body.subarray(headStart, headEnd).toString('utf8').split('\r\n');
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const type = headers.find((h) => /^content-type:/i.test(h));
    const name = param(disposition, 'name');
    if (name === undefined) return null;
    const filename = param(disposition, 'filename');
    parts.push({
      name,
      ...(filename !== undefined && { filename }),
      ...(type !== undefined && { contentType: type.slice(type.indexOf(':') + 1).trim() }),
      data: body.subarray(headEnd + 4, next),
    });
    at = next + 2;
  }
}
