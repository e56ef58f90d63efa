// The lint configuration lives in tools/lint (its own package: typescript-eslint needs TypeScript 5's API).
export { default } from './tools/lint/eslint.config.js';
