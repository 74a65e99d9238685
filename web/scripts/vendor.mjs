// Copies libsodium's ES module builds from node_modules into web/vendor/ so
// the page, its Worker and node all load them by a relative URL.
//
// Why: libsodium-wrappers.mjs imports the bare name "libsodium". A page can
// resolve that with an import map, but a module Worker cannot (import maps do
// not apply to workers), and decryption runs in a Worker. So the one import
// is rewritten to "./libsodium.mjs"; nothing else changes. Runs as the npm
// postinstall step (npm ci / npm install), and fails loudly if the upstream
// file no longer has exactly one such import.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const vendor = join(web, 'vendor');
const core = join(web, 'node_modules/libsodium/dist/modules-esm/libsodium.mjs');
const wrappers = join(web, 'node_modules/libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs');

const bare = 'from"libsodium"';
const text = readFileSync(wrappers, 'utf8');
const count = text.split(bare).length - 1;
if (count !== 1) {
  console.error(`web/scripts/vendor.mjs: expected one ${bare} in ${wrappers}, found ${count}; ` +
                'libsodium-wrappers changed its build, update this script');
  process.exit(1);
}

mkdirSync(vendor, { recursive: true });
// Write to temporary names and rename, so an interrupted run never leaves a
// half-written module that would load and fail later.
const put = (name, content) => {
  const tmp = join(vendor, `.${name}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, join(vendor, name));
};
put('libsodium.mjs', readFileSync(core));
put('libsodium-wrappers.mjs', text.replace(bare, 'from"./libsodium.mjs"'));

// zstddec (the page's zstd decoder, js/zstd.js) compiles its inlined
// WebAssembly from a data: URL through fetch(), which the page's
// Content-Security-Policy (connect-src 'self') refuses, or else from
// node's Buffer. Both become the same bytes decoded with atob(), which
// Workers, pages and node all have; nothing else changes.
const zstddec = join(web, 'node_modules/zstddec/dist/zstddec.mjs');
const zstdText = readFileSync(zstddec, 'utf8');
const replacements = [
  ['typeof fetch !== "undefined"', 'false'],
  ['Buffer.from(wasm, "base64")', 'Uint8Array.from(atob(wasm), (c) => c.charCodeAt(0))'],
];
let patched = zstdText;
for (const [from, to] of replacements) {
  const n = patched.split(from).length - 1;
  if (n !== 1) {
    console.error(`web/scripts/vendor.mjs: expected one ${from} in ${zstddec}, found ${n}; ` +
                  'zstddec changed its build, update this script');
    process.exit(1);
  }
  patched = patched.replace(from, to);
}
put('zstddec.mjs', patched);
