// The page's pure logic under node: formatting, the rate meter, paths,
// pin decisions, and the sentences shown for each kind of failure. (The
// page itself runs in real Chromium: tests/browser/.)
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { breadcrumbs, formatAgo, formatBytes, formatDuration, formatRate, joinPath, RateMeter,
         sortEntries } from '../js/format.js';
import { acceptDirectory, pinState, RequestClock } from '../js/keystore.js';
import { describeFailure } from '../js/messages.js';

test('sizes use binary units as the CLI prints them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(32 * 1024 * 1024), '32.0 MiB');
  assert.equal(formatBytes(256 * 1024 * 1024), '256 MiB');
  assert.equal(formatBytes(-1), '?');
});

test('rates are decimal MB/s and durations read naturally', () => {
  assert.equal(formatRate(25_400_000), '25.4 MB/s');
  assert.equal(formatRate(512_000), '512 kB/s');
  assert.equal(formatRate(NaN), '–');
  assert.equal(formatDuration(0.2), '1 s');
  assert.equal(formatDuration(125), '2 min 05 s');
  assert.equal(formatDuration(3720), '1 h 02 min');
  assert.equal(formatDuration(NaN), '–');
  assert.equal(formatAgo(1000, 1000 * 1000 + 30_000), 'just now');
  assert.equal(formatAgo(1000, 1000 * 1000 + 3 * 86400_000), '3 days ago');
  assert.equal(formatAgo(0), 'never');
});

test('the rate meter measures over its window and predicts the time left', () => {
  const meter = new RateMeter(1000);
  meter.add(0, 0);
  assert.ok(Number.isNaN(meter.rate()), 'one sample says nothing');
  meter.add(100, 1000);
  assert.ok(Number.isNaN(meter.rate()), 'under 200 ms is too short to tell');
  for (let t = 200; t <= 3000; t += 100) meter.add(t, t * 10);   // 10 bytes per ms
  assert.equal(meter.rate(), 10_000);
  assert.equal(meter.secondsLeft(40_000), 1);
  // A stall shows as a falling rate, not as the average since the start.
  meter.add(3900, 30_000);
  assert.ok(meter.rate() < 5000, `rate ${meter.rate()}`);
});

test('paths and breadcrumbs', () => {
  assert.equal(joinPath('/', 'demo'), '/demo');
  assert.equal(joinPath('/demo/a', 'b c'), '/demo/a/b c');
  assert.deepEqual(breadcrumbs('/'), [{ name: '/', path: '/' }]);
  assert.deepEqual(breadcrumbs('/demo/sub dir'), [
    { name: '/', path: '/' }, { name: 'demo', path: '/demo' }, { name: 'sub dir', path: '/demo/sub dir' }]);
  const sorted = sortEntries([{ name: 'b', type: 'file' }, { name: 'z', type: 'dir' }, { name: 'a', type: 'file' }]);
  assert.deepEqual(sorted.map((e) => e.name), ['z', 'a', 'b']);
});

test('pins: first contact, agreement, a changed key, an agent the relay no longer lists', () => {
  assert.equal(pinState(null, 'K1'), 'unpinned');
  assert.equal(pinState('K1', 'K1'), 'pinned');
  assert.equal(pinState('K1', 'K2'), 'changed');
  assert.equal(pinState('K1', null), 'unlisted');
});

test('every kind of failure reads as a sentence with its code', () => {
  const cases = [
    [{ kind: 'refused', code: 'unauthorized', message: 'x' }, /refused this browser \(unauthorized\).*authorized_requesters/],
    [{ kind: 'refused', code: 'not_found', message: 'no such file in this share' },
     /^Agent "shop-1" refused \(not_found\): no such file in this share\.$/],
    [{ kind: 'integrity', code: 'tampered', message: 'frame 3 failed authentication (altered, or not from this transfer)' },
     /^Integrity check failed \(tampered\): frame 3 failed authentication .*Nothing was saved\.$/],
    [{ kind: 'handshake', code: 'handshake_failed', message: '' }, /pinned key of agent "shop-1"/],
    [{ kind: 'aborted', code: 'aborted', agentCode: 'changed', agentMessage: 'the file changed while it was sent' },
     /stopped the transfer \(changed\): the file changed while it was sent\. Nothing was saved\.$/],
    [{ kind: 'relay', code: 'agent_offline', message: '' }, /is offline \(agent_offline\)/],
    [{ kind: 'relay', code: 'gone', message: 'the relay no longer holds the frames' },
     /^The relay ended the download \(gone\): the relay no longer holds the frames\. Nothing was saved\.$/],
    [{ kind: 'network', code: 'connection_lost', message: 'lost the stream 8 times.' },
     /^The relay could not be reached \(connection_lost\): lost the stream 8 times\. Check/],
    [{ kind: 'cancelled', code: 'cancelled' }, /^Download cancelled\. Nothing was saved\.$/],
    [{ kind: 'local', code: 'local_error', message: 'disk full' }, /^Saving failed \(local_error\): disk full\./],
  ];
  for (const [err, pattern] of cases) assert.match(describeFailure(err, { agent: 'shop-1' }), pattern);
  assert.doesNotMatch(describeFailure({ kind: 'refused', code: 'not_found', message: 'gone' },
                                      { agent: 'a', what: 'listing' }), /Nothing was saved/);
});

// An id from the relay becomes a pin's key and text on the screen: one that
// breaks the grammar (or comes twice) is refused, with the reason, before
// anything uses it (app.js says so with the id JSON-escaped, via textContent).
test("directory entries whose id breaks the agent-id rule are refused", () => {
  const key = 'A'.repeat(43) + '=';
  const { agents, refused } = acceptDirectory([
    { id: 'prod-agent', public_key: key },
    { id: `prod-agent ${key}`, public_key: key },
    { id: '..' }, { id: '../../x' }, { id: '/abs' }, { id: '\x1b[2J' }, { id: 7 }, {}, null,
    { id: 'prod-agent', public_key: 'other' },
  ]);
  assert.deepEqual(agents.map((a) => a.id), ['prod-agent']);
  assert.equal(agents[0].public_key, key, 'the first entry counts, not a later one');
  assert.deepEqual(refused.map((r) => r.id), [`prod-agent ${key}`, '..', '../../x', '/abs', '\x1b[2J', 7, undefined,
                                              undefined, 'prod-agent']);
  assert.match(refused[0].why, /breaks the id rule \(1-64 characters/);
  assert.equal(refused.at(-1).why, 'it is listed a second time');
  assert.equal(JSON.stringify(refused[4].id), '"\\u001b[2J"', 'shown escaped');
  assert.deepEqual(acceptDirectory(undefined), { agents: [], refused: [] });
});

// A Map standing in for localStorage.
function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

test('message 1 timestamps never go back, also after the clock jumps back, and stay near the clock', () => {
  const storage = memoryStorage();
  let now = 1_700_000_000_000;
  const clock = new RequestClock(storage, () => now);
  const first = clock.take('shop-1');
  assert.equal(first, now);
  assert.equal(clock.take('shop-1'), now + 1, 'same millisecond: the next one');
  now -= 120_000;   // NTP steps the clock back two minutes
  const afterJump = clock.take('shop-1');
  assert.equal(afterJump, first + 2, 'above every stamp used, not Date.now()');
  // Another tab (another instance on the same storage) continues from there.
  const otherTab = new RequestClock(storage, () => now);
  assert.equal(otherTab.take('shop-1'), afterJump + 1);
  // Stamps a Worker used for resumes count too.
  otherTab.used('shop-1', afterJump + 50);
  assert.equal(clock.take('shop-1'), afterJump + 51);
  // Each agent has its own; once the clock is past them, it is the clock.
  assert.equal(clock.take('shop-2'), now);
  now += 300_000;
  assert.equal(clock.take('shop-1'), now);
  // No storage (a browser that refuses it): still monotonic in the page.
  const bare = new RequestClock({ getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('x'); } },
                                () => 5);
  assert.equal(bare.take('a'), 5);
  assert.equal(bare.take('a'), 6);
});
