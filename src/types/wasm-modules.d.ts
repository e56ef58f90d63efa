// The echogarden WASM packages ship Emscripten factories without type declarations.
declare module '@echogarden/speex-resampler-wasm' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
declare module '@echogarden/fvad-wasm' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
declare module '@echogarden/rnnoise-wasm' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
