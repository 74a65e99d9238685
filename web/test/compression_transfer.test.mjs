// A transfer with compression through transfer.js (docs/protocol.md §3.1):
// the offer in message 1, the agent's decision in message 2, compressed
// frames opened with zstd.js, and an agent that agrees to what was not
// offered. Against the fake relay of fake_relay.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { concat, equal, utf8 } from '../js/bytes.js';
import { FrameSealer } from '../js/frames.js';
import { generateIdentity } from '../js/noise.js';
import { TransferError, runTransfer } from '../js/transfer.js';
import { loadZstd } from '../js/zstd.js';
import { FakeRelay } from './fake_relay.mjs';

const requester = generateIdentity();
const agentIdentity = generateIdentity();
// 4096 rows "date,sku,amount\n" (64 KiB), and `zstd -1 --no-check` of them.
const ROWS = utf8('date,sku,amount\n'.repeat(4096));
const ROWS_Z = Uint8Array.from(Buffer.from('KLUv/WAA/8UAAIBkYXRlLHNrdSxhbW91bnQKAQDa/6PPJQ==', 'base64'));
const CHUNK = ROWS.length;

// An agent that compresses when asked (or always, with `always`) and
// records the requests it read.
function compressingAgent({ always = false } = {}) {
  const seen = [];
  return {
    identity: agentIdentity,
    seen,
    answerFor(request) {
      seen.push(request);
      return { ok: true, type: 'file', name: 'sales.csv', size: 2 * CHUNK, mtime: 1, chunkSize: CHUNK, offset: 0,
               firstIndex: 0, frames: true, compression: always || request.offerCompression };
    },
    framesFor(request, keys) {
      const sealer = new FrameSealer(keys, 0);
      const compress = always || request.offerCompression;
      const data = (chunk) => (compress ? sealer.sealCompressedForTest(chunk, ROWS_Z) : sealer.sealChunk(chunk));
      return [data(ROWS), data(ROWS), sealer.sealTrailer()];
    },
  };
}

function run(agent, extra = {}) {
  const relay = new FakeRelay({ agent });
  const parts = [];
  const sink = { write: async (c) => { parts.push(c); } };
  return runTransfer({
    relay: '', token: 'srt_test', agent: 'shop-1', agentKey: agentIdentity.publicKey, identity: requester,
    request: { op: 'get', path: '/share/sales.csv', chunkSize: CHUNK }, openSink: () => sink, fetch: relay.fetch,
    sleep: async () => {}, random: () => 0.5, ...extra,
  }).then((result) => ({ result, content: concat(...parts) }));
}

test('with a decoder the request offers zstd and the compressed frames arrive as content', async () => {
  const agent = compressingAgent();
  const { content } = await run(agent, { decompressor: await loadZstd() });
  assert.equal(agent.seen[0].offerCompression, true);
  assert.ok(equal(content, concat(ROWS, ROWS)));
});

test('without a decoder nothing is offered and the agent sends plain frames', async () => {
  const agent = compressingAgent();
  const { content } = await run(agent);
  assert.equal(agent.seen[0].offerCompression, false);
  assert.ok(equal(content, concat(ROWS, ROWS)));
});

test('an agent that agrees to compression that was not offered is refused', async () => {
  const err = await run(compressingAgent({ always: true })).then(() => null, (e) => e);
  assert.ok(err instanceof TransferError, String(err));
  assert.equal(err.kind, 'integrity');
  assert.equal(err.code, 'bad_response');
});
