/**
 * TwiML documents: templates in twiml/ (editable by operators) with the <Connect><Stream>
 * element built by the twilio package. Every inserted value is XML-escaped.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import twilio from 'twilio';

/**
 * The twiml/ folder of the checkout or image: the nearest one above this module, whether it
 * runs from src/http (tsx) or from a build in dist/builds/<id>/http (scripts/build.mjs).
 */
function findTwimlDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = path.dirname(here); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'twiml', 'inbound.xml'))) return path.join(dir, 'twiml');
    if (path.dirname(dir) === dir) return path.resolve(here, '../../twiml');
  }
}

export const TWIML_DIR = findTwimlDir();

export function xmlEscape(v: string): string {
  return v.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** The <Connect><Stream url><Parameter/>...</Stream></Connect> fragment. */
export function connectStream(streamUrl: string, parameters: Record<string, string>, name?: string): string {
  const response = new twilio.twiml.VoiceResponse();
  const stream = response.connect().stream({ url: streamUrl, ...(name ? { name } : {}) });
  for (const [k, v] of Object.entries(parameters)) stream.parameter({ name: k, value: v });
  return response
    .toString()
    .replace(/^<\?xml[^>]*\?>/, '')
    .replace(/^<Response>/, '')
    .replace(/<\/Response>$/, '');
}

export class TwimlTemplate {
  private constructor(
    readonly name: string,
    private readonly text: string,
  ) {}

  /** Loads twiml/<name>.xml; refuses a template that lacks a required placeholder. */
  static load(name: string, required: string[] = [], dir = TWIML_DIR): TwimlTemplate {
    const file = path.join(dir, `${name}.xml`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`TwiML template ${file} cannot be read: ${(err as Error).message}`);
    }
    text = text.replace(/<!--[\s\S]*?-->\s*/g, '');
    for (const p of required) {
      if (!text.includes(`{{${p}}}`)) throw new Error(`TwiML template ${file} must contain the placeholder {{${p}}}`);
    }
    if (!/<Response[\s>]/.test(text)) throw new Error(`TwiML template ${file} has no <Response> element`);
    return new TwimlTemplate(name, text);
  }

  /** Fills placeholders: `raw` values are trusted TwiML fragments, `values` are escaped. */
  render(values: Record<string, string>, raw: Record<string, string> = {}): string {
    return this.text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
      if (key in raw) return raw[key]!;
      if (key in values) return xmlEscape(values[key]!);
      return '';
    });
  }
}
