/**
 * The models GET /v1/models lists, with every documented field, and model_id validation: the
 * two ElevenLabs voice-changer ids are served (by one engine); any other id is a 400 as
 * ElevenLabs answers it, with a clearer word for its text-to-speech models.
 */
import { statusError, type StsErrorAnswer } from './sts-request.js';

const LANGUAGES_EN = [{ language_id: 'en', name: 'English' }];
const LANGUAGES_MULTI = [
  ['en', 'English'], ['ja', 'Japanese'], ['zh', 'Chinese'], ['de', 'German'], ['hi', 'Hindi'], ['fr', 'French'], ['ko', 'Korean'],
  ['pt', 'Portuguese'], ['it', 'Italian'], ['es', 'Spanish'], ['id', 'Indonesian'], ['nl', 'Dutch'], ['tr', 'Turkish'], ['fil', 'Filipino'],
  ['pl', 'Polish'], ['sv', 'Swedish'], ['bg', 'Bulgarian'], ['ro', 'Romanian'], ['ar', 'Arabic'], ['cs', 'Czech'], ['el', 'Greek'],
  ['fi', 'Finnish'], ['hr', 'Croatian'], ['ms', 'Malay'], ['sk', 'Slovak'], ['da', 'Danish'], ['ta', 'Tamil'], ['uk', 'Ukrainian'], ['ru', 'Russian'],
].map(([language_id, name]) => ({ language_id: language_id!, name: name! }));

function model(model_id: string, name: string, description: string, languages: Array<{ language_id: string; name: string }>) {
  return {
    model_id,
    name,
    can_be_finetuned: false,
    can_do_text_to_speech: false,
    can_do_voice_conversion: true,
    can_use_style: true,
    can_use_speaker_boost: true,
    serves_pro_voices: false,
    token_cost_factor: 1,
    description,
    requires_alpha_access: false,
    max_characters_request_free_user: 0,
    max_characters_request_subscribed_user: 0,
    maximum_text_length_per_request: 0,
    languages,
    model_rates: { character_cost_multiplier: 1 },
    concurrency_group: 'standard' as const,
  };
}

export const STS_MODELS = [
  model(
    'eleven_multilingual_sts_v2',
    'Eleven Multilingual v2',
    'Voice changer served offline by the embedded voice-masking engine (language-independent signal processing; any language in, same language out).',
    LANGUAGES_MULTI,
  ),
  model('eleven_english_sts_v2', "Eleven English v2", 'Voice changer served offline by the embedded voice-masking engine (the same engine as eleven_multilingual_sts_v2).', LANGUAGES_EN),
];

export const DEFAULT_MODEL_ID = 'eleven_english_sts_v2';

/** ElevenLabs' text-to-speech models: named in the error, since they exist there but cannot change voices. */
const TTS_MODELS = new Set([
  'eleven_multilingual_v2', 'eleven_multilingual_v1', 'eleven_monolingual_v1', 'eleven_english_v2', 'eleven_turbo_v2', 'eleven_turbo_v2_5',
  'eleven_flash_v2', 'eleven_flash_v2_5', 'eleven_v3', 'eleven_ttv_v3',
]);

/** Undefined when the model can change voices here, else the 400 ElevenLabs sends. */
export function checkModel(modelId: string): StsErrorAnswer | undefined {
  if (STS_MODELS.some((m) => m.model_id === modelId)) return undefined;
  const ids = STS_MODELS.map((m) => m.model_id).join(' or ');
  if (TTS_MODELS.has(modelId)) {
    return statusError(400, 'model_can_not_do_voice_conversion', `The model with model ID ${modelId} can not do voice conversion (can_do_voice_conversion is false): use ${ids}.`);
  }
  return statusError(400, 'model_not_found', `A model with model ID ${modelId} does not exist. Models that can do voice conversion here: ${ids}.`);
}
