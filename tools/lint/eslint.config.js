/**
 * Lint rules of voice-mask (flat config, typescript-eslint parser; type information for the
 * few rules that need it).
 * Loaded by the root eslint.config.js; `npm test` runs `eslint .`.
 *
 * FAIL CLOSED (src/voice/masked.ts): only the files in BRAND_TRUSTED may make MaskedAudio. Any
 * other product and tool code may not import or re-export the brand function, under any name
 * (`import { asMasked as brand }`, `export { asMasked as x } from`), may not take a namespace
 * or dynamic import of a voice module (`import * as v`, `await import()`), may not name the
 * brand at all (`v.asMasked`, `v['asMasked']`, destructuring), and may not cast to MaskedAudio
 * (`x as MaskedAudio`, `<MaskedAudio>x`, `x is MaskedAudio`, or the type under an alias).
 * The passthrough converter (unmasked by design) is for the two-party line code only.
 * Tools (tools/) import the product only through src/index.ts and src/audio/index.ts.
 * Test doubles (tools/fakes/) import nothing from src/.
 * test/unit/tools/lint/eslint-config.test.ts shows each rule failing and passing.
 */
import Module, { createRequire } from 'node:module';

// typescript-eslint parses with the TypeScript 5 compiler API installed in this package; the
// repository's own TypeScript 7 (tsc for type checks) has no JS API. npm nests the
// @typescript-eslint packages here beside TypeScript 5 but hoists their helper ts-api-utils to
// the root, where `require('typescript')` would find TypeScript 7: point every such require in
// the lint process at this package's TypeScript.
const typescript5 = createRequire(import.meta.url).resolve('typescript');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, request === 'typescript' ? typescript5 : request, ...rest);
};
const { default: tseslint } = await import('typescript-eslint');
/** The repository's root: the tsconfig.json the type-checked rules read. */
const ROOT = new URL('../..', import.meta.url).pathname;

/** The functions of src/voice/masked.ts that brand bytes as masked (the lint test checks they exist). */
export const BRAND_FUNCTIONS = ['asMasked'];
/**
 * The files trusted to brand audio: the brand itself, the converters that make masked audio
 * (ElevenLabs' answer, the embedded engine's output), and the documented exceptions that carry
 * nothing of a speaker (hold music) or that only the line code may use (passthrough).
 * Everything else, src/voice/ included, is held to the fail-closed rules.
 */
export const BRAND_TRUSTED = [
  'src/voice/masked.ts',
  'src/voice/elevenlabs/client.ts',
  'src/voice/local/index.ts',
  'src/voice/local/stream.ts',
  'src/voice/hold-music.ts',
  'src/voice/passthrough.ts',
];
const BRAND_TYPE = 'MaskedAudio';
/** Module specifiers that may lead to src/voice/ (relative paths naming a voice/ folder, or masked.*). */
const VOICE_MODULE = '(^|/)voice(/|$)|(^|/)masked(\\.[jt]s)?$';
/** The same for esquery selectors, whose /regex/ may not contain a slash. */
const VOICE_MODULE_Q = VOICE_MODULE.replaceAll('/', '\\x2F');
const brandNames = BRAND_FUNCTIONS.join('|');

const message = 'Fail closed: only src/voice/ may brand audio as MaskedAudio (see src/voice/masked.ts).';

const failClosedImports = {
  patterns: [
    {
      regex: VOICE_MODULE,
      importNames: BRAND_FUNCTIONS,
      message,
    },
    {
      regex: '(^|/)passthrough(\\.[jt]s)?$',
      message: 'The passthrough converter sends speech unmasked: only the two-party line code (src/session/line/) may use it.',
    },
  ],
};

const failClosedSyntax = [
  { selector: `Identifier[name=/^(${brandNames})$/]`, message },
  { selector: `Literal[value=/^(${brandNames})$/]`, message },
  { selector: `ImportExpression[source.value=/${VOICE_MODULE_Q}/]`, message: `${message} No dynamic import of voice modules outside src/voice/.` },
  { selector: `ImportExpression:not([source.type='Literal'])`, message: 'Dynamic import with a computed specifier: the fail-closed rules cannot check it.' },
  { selector: `TSAsExpression > TSTypeReference.typeAnnotation[typeName.name='${BRAND_TYPE}']`, message: `${message} No cast to ${BRAND_TYPE}.` },
  { selector: `TSTypeAssertion > TSTypeReference.typeAnnotation[typeName.name='${BRAND_TYPE}']`, message: `${message} No cast to ${BRAND_TYPE}.` },
  { selector: `TSTypePredicate TSTypeReference[typeName.name='${BRAND_TYPE}']`, message: `${message} No type guard to ${BRAND_TYPE}.` },
  { selector: `ImportSpecifier[imported.name='${BRAND_TYPE}'][local.name!='${BRAND_TYPE}']`, message: `${message} Import ${BRAND_TYPE} under its own name.` },
  { selector: `ExportSpecifier[local.name=/^(${brandNames}|${BRAND_TYPE})$/][exported.name!=/^${BRAND_TYPE}$/]`, message },
];

const NAMESPACE_OF_VOICE = { selector: `ImportDeclaration[source.value=/${VOICE_MODULE_Q}/] > ImportNamespaceSpecifier`, message: `${message} No namespace import of a voice module.` };

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'dist/**', 'coverage/**', '**/*.d.ts'] },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.js', '**/*.mjs'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
  },
  {
    // Type-checked rules that catch real bugs here: a promise nobody awaits or catches (a
    // rejection that escapes a call), a promise where a callback's result is ignored, and
    // unused code. typescript-eslint reads the types through the project's tsconfig.json.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: ROOT } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Product and tool code outside src/voice/ (tests may brand bytes to feed playout directly).
    files: ['src/**', 'tools/**', 'scripts/**'],
    ignores: BRAND_TRUSTED,
    rules: {
      'no-restricted-imports': ['error', failClosedImports],
      'no-restricted-syntax': ['error', ...failClosedSyntax, NAMESPACE_OF_VOICE],
    },
  },
  {
    // The two-party line code may use the passthrough converter; the brand rules still hold.
    files: ['src/session/line/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: failClosedImports.patterns.slice(0, 1) }],
    },
  },
  {
    // Tools use the product from outside (HTTP, WebSocket) or through its public modules only.
    files: ['tools/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...failClosedImports.patterns,
            {
              regex: '(^|/)src/(?!index\\.js$|audio/index\\.js$)',
              message: 'Tools import the product only through its public modules, src/index.ts and src/audio/index.ts (or talk to it over HTTP/WebSocket).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['tools/fakes/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)src(/|$)', message: 'Test doubles are written from the providers\' API references: they import nothing from src/.' }] },
      ],
    },
  },
);
