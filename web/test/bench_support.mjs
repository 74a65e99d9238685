// What the two Chromium benchmarks share: web/'s files over HTTP, and the
// processes Chromium runs as descendants of this one (from /proc).
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

import { webDir } from './helpers.mjs';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

// Answers `path` (normalized, under web/) with that file, or 404.
export async function serveWebFile(path, res) {
  try {
    const body = await readFile(join(webDir, path));
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
}

// Every process descending from this one: [{pid, cmdline}] (those that
// ended while the walk ran are left out).
export function descendants() {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  const out = [];
  const queue = [process.pid];
  while (queue.length > 0) {
    for (const pid of children.get(queue.pop()) ?? []) {
      queue.push(pid);
      try {
        out.push({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return out;
}
