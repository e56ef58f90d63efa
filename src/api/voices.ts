/**
 * The voice listings as ElevenLabs sends them: GET /v1/voices ({voices}), GET /v1/voices/{id}
 * (one Voice) and GET /v2/voices (search, sort, page_size, next_page_token, has_more,
 * total_count). The engine's presets are "premade" voices with labels, their default settings
 * and a preview_url the bridge serves itself; after them ElevenLabs' own premade voice ids,
 * each served by a preset (src/voice/local/premade-voices.ts).
 */
import type { EngineVoice } from './engine.js';
import { STS_MODELS } from './models.js';
import type { ValidationIssue } from './sts-request.js';
import { DEFAULT_VOICE_SETTINGS } from './voice-settings.js';

/** Labels per preset (ElevenLabs' keys); the accent is always the speaker's own. */
const LABELS: Record<string, { gender: string; age: string; description: string }> = {
  'deep-male': { gender: 'male', age: 'middle_aged', description: 'deep' },
  'neutral-male': { gender: 'male', age: 'middle_aged', description: 'neutral' },
  androgynous: { gender: 'neutral', age: 'young', description: 'androgynous' },
  'neutral-female': { gender: 'female', age: 'middle_aged', description: 'neutral' },
  'bright-female': { gender: 'female', age: 'young', description: 'bright' },
  steady: { gender: 'neutral', age: 'middle_aged', description: 'calm' },
  'shift-down': { gender: 'speaker', age: 'speaker', description: 'lower' },
  'shift-up': { gender: 'speaker', age: 'speaker', description: 'higher' },
};

/** The presets' "creation" time: the release that introduced them (stable, so sorting is too). */
const CREATED_AT_UNIX = 1_764_547_200; // 2025-12-01

export function voiceJson(v: EngineVoice, baseUrl: string) {
  const l = v.labels ?? { use_case: 'voice masking', ...(LABELS[v.id] ?? { gender: 'neutral', age: 'middle_aged', description: 'masked' }) };
  return {
    voice_id: v.id,
    name: v.name,
    category: 'premade' as const,
    labels: { accent: "speaker's own", age: l.age, gender: l.gender, description: l.description, use_case: l.use_case },
    description: v.description,
    preview_url: `${baseUrl}/v1/voices/${encodeURIComponent(v.id)}/preview`,
    available_for_tiers: [] as string[],
    settings: { ...DEFAULT_VOICE_SETTINGS },
    high_quality_base_model_ids: STS_MODELS.map((m) => m.model_id),
    verified_languages: [] as unknown[],
    collection_ids: [] as string[],
    is_owner: false,
    is_legacy: false,
    is_mixed: false,
    created_at_unix: CREATED_AT_UNIX,
  };
}

export interface SearchResult {
  voices: ReturnType<typeof voiceJson>[];
  has_more: boolean;
  total_count: number;
  next_page_token: string | null;
}

const PAGE_DEFAULT = 10;
const PAGE_MAX = 100;
const VOICE_TYPES = ['personal', 'community', 'default', 'workspace', 'non-default', 'saved'];
const SORTS = ['created_at_unix', 'name'];

const token = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');
function untoken(t: string): number | undefined {
  const m = /^offset:(\d+)$/.exec(Buffer.from(t, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

/** GET /v2/voices over the presets; issues for bad query values (422, as FastAPI). */
export function searchVoices(all: readonly EngineVoice[], q: URLSearchParams, baseUrl: string): SearchResult | { issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  let pageSize = PAGE_DEFAULT;
  const ps = q.get('page_size');
  if (ps !== null) {
    if (!/^\d+$/.test(ps)) issues.push({ loc: ['query', 'page_size'], msg: 'Input should be a valid integer, unable to parse string as an integer', type: 'int_parsing' });
    else if (Number(ps) < 1 || Number(ps) > PAGE_MAX) issues.push({ loc: ['query', 'page_size'], msg: `Input should be between 1 and ${PAGE_MAX}`, type: 'value_error' });
    else pageSize = Number(ps);
  }
  const sort = q.get('sort') ?? 'created_at_unix';
  if (!SORTS.includes(sort)) issues.push({ loc: ['query', 'sort'], msg: `Input should be ${SORTS.map((s) => `'${s}'`).join(' or ')}`, type: 'enum' });
  const dir = q.get('sort_direction') ?? 'desc';
  if (dir !== 'asc' && dir !== 'desc') issues.push({ loc: ['query', 'sort_direction'], msg: "Input should be 'asc' or 'desc'", type: 'enum' });
  const voiceType = q.get('voice_type');
  if (voiceType !== null && !VOICE_TYPES.includes(voiceType)) issues.push({ loc: ['query', 'voice_type'], msg: `Input should be ${VOICE_TYPES.map((s) => `'${s}'`).join(', ')}`, type: 'enum' });
  let offset = 0;
  const t = q.get('next_page_token');
  if (t) {
    const o = untoken(t);
    if (o === undefined) issues.push({ loc: ['query', 'next_page_token'], msg: 'Invalid page token', type: 'value_error' });
    else offset = o;
  }
  if (issues.length > 0) return { issues };

  const search = q.get('search')?.trim().toLowerCase();
  const category = q.get('category');
  const ids = q.getAll('voice_ids').flatMap((s) => s.split(',')).filter(Boolean);
  let list = all.map((v) => voiceJson(v, baseUrl));
  // The presets are ElevenLabs' "default" (premade) voices: no personal, community or saved ones.
  if (voiceType !== null && voiceType !== 'default') list = [];
  if (category !== null && category !== 'premade') list = [];
  if (q.get('collection_id')) list = [];
  if (ids.length > 0) list = list.filter((v) => ids.includes(v.voice_id));
  if (search) {
    list = list.filter((v) => [v.voice_id, v.name, v.description, ...Object.values(v.labels)].some((s) => s.toLowerCase().includes(search)));
  }
  const sign = dir === 'asc' ? 1 : -1;
  // Equal creation times: by name, so pages are stable.
  list.sort((a, b) => (sort === 'name' ? sign * a.name.localeCompare(b.name) : sign * (a.created_at_unix - b.created_at_unix) || a.name.localeCompare(b.name)));
  const page = list.slice(offset, offset + pageSize);
  const more = offset + pageSize < list.length;
  return { voices: page, has_more: more, total_count: list.length, next_page_token: more ? token(offset + pageSize) : null };
}
