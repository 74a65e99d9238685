// What the page shows for numbers and times: sizes, rates, ETAs, dates, and
// a rate meter over a sliding window. Pure functions (no DOM), tested under
// node (test/page_logic.test.mjs).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

// "0 B", "999 B", "1.5 KiB", "32.0 MiB": binary units, as the CLI prints.
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '?';
  if (n < 1024) return `${n} B`;
  let unit = 0;
  let value = n;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    ++unit;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

// "12.5 MB/s": decimal megabytes per second, as docs/performance.md counts.
export function formatRate(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '–';
  if (bytesPerSecond < 1e6) return `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

// "3 s", "2 min 05 s", "1 h 02 min"; "–" when unknown.
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

// "2026-11-20 14:03" in the browser's time zone, from unix seconds.
export function formatDate(unixSeconds) {
  if (!Number.isFinite(unixSeconds)) return '?';
  const d = new Date(unixSeconds * 1000);
  const two = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

// "just now", "5 min ago", "3 h ago", "2 days ago", from unix seconds.
export function formatAgo(unixSeconds, nowMs = Date.now()) {
  if (!Number.isFinite(unixSeconds) || unixSeconds <= 0) return 'never';
  const s = Math.max(0, Math.floor(nowMs / 1000 - unixSeconds));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const days = Math.floor(s / 86400);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

// Transfer rate over the last `windowMs`, and the time left at that rate.
//   const meter = new RateMeter();
//   meter.add(nowMs, totalBytesSoFar);  // on every progress event
//   meter.rate()                        // bytes per second, or NaN early on
export class RateMeter {
  #windowMs;
  #samples = [];   // [timeMs, bytes], oldest first

  constructor(windowMs = 4000) {
    this.#windowMs = windowMs;
  }

  add(timeMs, bytes) {
    this.#samples.push([timeMs, bytes]);
    // Keep one sample older than the window so the span covers all of it.
    while (this.#samples.length > 2 && this.#samples[1][0] <= timeMs - this.#windowMs) this.#samples.shift();
  }

  // Bytes per second across the samples held; NaN until they span 200 ms.
  rate() {
    if (this.#samples.length < 2) return NaN;
    const [t0, b0] = this.#samples[0];
    const [t1, b1] = this.#samples[this.#samples.length - 1];
    return t1 - t0 < 200 ? NaN : ((b1 - b0) * 1000) / (t1 - t0);
  }

  // Seconds until `total` bytes at the current rate; NaN when unknown.
  secondsLeft(total) {
    const rate = this.rate();
    const last = this.#samples[this.#samples.length - 1];
    if (!last || !(rate > 0)) return NaN;
    return Math.max(0, total - last[1]) / rate;
  }
}

// Joins a requester path and a name: ("/", "demo") → "/demo",
// ("/demo/a", "b c") → "/demo/a/b c".
export function joinPath(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

// The breadcrumbs of a requester path: [{name, path}], the root first.
//   "/demo/a" → [{name: '/', path: '/'}, {name: 'demo', path: '/demo'}, {name: 'a', path: '/demo/a'}]
export function breadcrumbs(path) {
  const out = [{ name: '/', path: '/' }];
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    out.push({ name: part, path: at });
  }
  return out;
}

// Listing entries in display order: directories first, then by name.
export function sortEntries(entries) {
  return [...entries].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1));
}
