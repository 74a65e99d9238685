// The page's zstd decoder for compressed frames (docs/protocol.md §3.1):
// the official zstd's decompressor compiled to WebAssembly (npm zstddec,
// copied to vendor/ by scripts/vendor.mjs; web/README.md says why this one).
// Used in the decryption Worker only. No I/O.
import { ZSTDDecoder } from '../vendor/zstddec.mjs';

let ready = null;

// Resolves to {decompress(bytes, limit)} once the WebAssembly is compiled
// (once per Worker). decompress returns the content (a fresh Uint8Array of
// 1..limit bytes), or null when `bytes` is not zstd, decompresses to
// nothing, or would decompress to more than `limit` bytes.
export function loadZstd() {
  ready ??= (async () => {
    const decoder = new ZSTDDecoder();
    await decoder.init();
    return {
      decompress(bytes, limit) {
        // zstddec writes into a buffer of the size it is given and slices
        // from it as many bytes as ZSTD_decompress returned, which for an
        // error is a huge code, cut at the end of its memory. With room for
        // one byte more than the limit, every frame within the limit comes
        // back whole, and every error or excess comes back longer than the
        // limit (the buffer alone has limit + 1 bytes): refused here.
        const out = decoder.decode(bytes, limit + 1);
        return out.length === 0 || out.length > limit ? null : out;
      },
    };
  })();
  return ready;
}
