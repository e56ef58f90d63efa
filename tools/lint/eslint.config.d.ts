/** Types for the tests that read the lint configuration. */
export declare const BRAND_FUNCTIONS: readonly string[];
declare const config: readonly object[];
export default config;
