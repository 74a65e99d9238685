// The one place that loads libsodium-wrappers (0.8.4, libsodium 1.0.22 in
// WebAssembly). Every other module imports `sodium` from here, ready to use.
//
// Loaded by relative URL from web/vendor/ (made by scripts/vendor.mjs at npm
// install), so the same code runs in node, on the page and in a module
// Worker, none of which then needs an import map.
//
// WARNING: libsodium-wrappers' to_base64/from_base64 default to URL-safe
// without padding. Never call them without a variant; use base64.js.

// The ESM build needs globalThis.crypto.getRandomValues, which browsers and
// node >= 19 provide; node 18 (Debian 12's) only has it under node:crypto.
if (typeof globalThis.crypto?.getRandomValues !== 'function') {
  const { webcrypto } = await import('node:crypto');
  globalThis.crypto = webcrypto;
}

const { default: sodium } = await import('../vendor/libsodium-wrappers.mjs');
await sodium.ready;

export default sodium;
