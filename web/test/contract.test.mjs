// The C++ side is the one definition; this test holds the mirrors to it.
// tests/unit/web/contract_dump.cpp prints the error table (proto/errors.h)
// and the wire constants as JSON; checked against them here:
//   * docs/api.md §Errors: exactly the codes with an HTTP status, each with
//     its status; the stream's `event: error` codes are named there too;
//   * docs/protocol.md §4.2: exactly the agent's refusal codes;
//   * the relay's `fail(res, STATUS, "code", ...)` and body refusals: the table's status;
//   * every code C++ makes from a literal and every code web/js makes or
//     tests, including those web/js/messages.js switches on, is in the table;
//   * web/js's constants equal the C++ ones, and docs/protocol.md §7 names
//     every mirror.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { fileExists, repoDir, skip, webDir } from './helpers.mjs';

const dumpPath = process.env.SEALRELAY_CONTRACT_DUMP;

function loadDump(t) {
  if (!dumpPath) {
    skip(t, 'SEALRELAY_CONTRACT_DUMP is not set: run through ctest (it builds tests/unit/web/contract_dump.cpp)');
    return null;
  }
  if (!fileExists(dumpPath)) {
    skip(t, `${dumpPath} does not exist: build it first (cmake --build BUILD --target web_contract_dump)`);
    return null;
  }
  const dump = JSON.parse(execFileSync(dumpPath, { encoding: 'utf8' }));
  dump.byCode = new Map(dump.errors.map((row) => [row.code, row]));
  return dump;
}

const read = (...parts) => readFileSync(join(repoDir, ...parts), 'utf8');

// The text of the section that starts with `heading` (a whole line), up to
// the next heading of the same or a higher level.
function section(markdown, heading) {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no heading "${heading}"`);
  const level = heading.match(/^#+/)[0].length;
  const end = lines.findIndex((line, i) => i > start && /^#+ /.test(line) && line.match(/^#+/)[0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

const codesIn = (text) => [...text.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]);

function sourceFiles(dir, pattern) {
  const out = [];
  for (const entry of readdirSync(join(repoDir, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, pattern));
    else if (pattern.test(entry.name)) out.push(path);
  }
  return out;
}

// Every match of every regex in `patterns` over the files, as [file, code, status?].
function literals(files, patterns) {
  const out = [];
  for (const file of files) {
    const text = read(file);
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        for (const code of m.slice(1).filter((g) => g && /^[a-z]/.test(g))) out.push([file, code, m.groups?.status]);
      }
    }
  }
  return out;
}

test('docs/api.md §Errors lists exactly the codes the relay answers with a status, with that status', (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const rows = [...section(read('docs/api.md'), '## Errors').matchAll(/^\| (\d{3}) \| `([a-z0-9_]+)` \|/gm)];
  const documented = Object.fromEntries(rows.map((m) => [m[2], Number(m[1])]));
  const table = Object.fromEntries(dump.errors.filter((r) => r.status !== null).map((r) => [r.code, r.status]));
  assert.ok(rows.length > 10, 'the error table of docs/api.md was not found');
  assert.deepEqual(documented, table);
});

test("docs/api.md names every code the relay ends an event stream with", (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const api = read('docs/api.md');
  const bullet = api.slice(api.indexOf('* `event: error`'), api.indexOf('No `id` line.'));
  assert.ok(bullet.length > 0, "docs/api.md's `event: error` bullet was not found");
  const named = new Set(codesIn(bullet));
  for (const row of dump.errors.filter((r) => r.via.includes('event'))) {
    assert.ok(named.has(row.code), `docs/api.md's event: error bullet does not name ${row.code}`);
  }
});

test("docs/protocol.md §4.2 lists exactly the agent's refusal codes", (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const answer = section(read('docs/protocol.md'), '### 4.2 Answer (message 2)');
  // The codes, without the parenthesised explanations (which quote fields).
  const list = answer.slice(answer.indexOf('Error codes:'), answer.indexOf('A refusal travels'))
    .replace(/\([^)]*\)/g, '');
  const documented = codesIn(list).sort();
  const table = dump.errors.filter((r) => r.via.includes('refusal')).map((r) => r.code).sort();
  assert.deepEqual(documented, table);
});

test('the relay takes every status from the table, none of its own beside a code', () => {
  const relay = sourceFiles('relay', /\.(cpp|h)$/);
  const ownStatus = literals(relay, [
    /\bfail\(res, (?<status>\d{3}), "([a-z0-9_]+)"/g,
    /send_json\(res, (?<status>\d{3}), \{\{"error", "([a-z0-9_]+)"/g,
  ]);
  assert.deepEqual(ownStatus.map(([file, code]) => `${file}: ${code}`), [],
                   'an error answered with a status literal instead of the table\'s');
  const typed = literals(relay, [/\bfail\(res, ErrorCode::([a-z0-9_]+)/g]);
  assert.ok(typed.length > 10, `only ${typed.length} fail(res, ErrorCode::...) in relay/: update this test to how it answers`);
});

test('every code the C++ programs make from a literal is in the table', (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const files = ['agent', 'requester', 'crypto', 'proto', 'base', 'relay'].flatMap((d) => sourceFiles(d, /\.(cpp|h)$/));
  const made = literals(files, [/\bmake_error\(\s*"([a-z0-9_]+)"/g, /\b(?:refuse|done|fail)\(\s*"([a-z0-9_]+)"/g,
                                /make_error\(ErrorCode::([a-z0-9_]+)/g, /error_event\("([a-z0-9_]+)"/g,
                                /\{'err', *'([a-z0-9_]+)'/g]);
  assert.ok(made.length > 50, `only ${made.length} codes found: update this test's patterns`);
  for (const [file, code] of made) {
    if (code === 'ok') continue;  // the agent's record of a served transfer, not an error
    assert.ok(dump.byCode.has(code), `${file}: ${code} is not in proto/errors.h's table`);
  }
});

test('every code the page makes, tests or explains is in the table', (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const files = sourceFiles('web/js', /\.js$/);
  const made = literals(files, [
    /SealrelayError\(\s*'([a-z0-9_]+)'/g,
    /TransferError\(\s*'[a-z]+',\s*(?:[^,'()]*\?\s*)?'([a-z0-9_]+)'(?:\s*:\s*'([a-z0-9_]+)')?/g,
    /#(?:fail|makeError)\(\s*'([a-z0-9_]+)'/g,
    /\bcode: '([a-z0-9_]+)'/g,
    /\.code === '([a-z0-9_]+)'/g,
  ]);
  for (const set of read('web/js/transfer.js').matchAll(/_CODES = new Set\(\[([^\]]*)\]/g)) {
    for (const m of set[1].matchAll(/'([a-z0-9_]+)'/g)) made.push(['web/js/transfer.js', m[1]]);
  }
  assert.ok(made.length > 30, `only ${made.length} codes found: update this test's patterns`);
  for (const [file, code] of made) {
    assert.ok(dump.byCode.has(code), `${file}: ${code} is not in proto/errors.h's table`);
  }
});

test('every code web/js/messages.js switches on is in the table', (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const text = read('web/js/messages.js');
  const cases = [];
  for (let at = text.indexOf('switch (code) {'); at >= 0; at = text.indexOf('switch (code) {', at + 1)) {
    let depth = 0;
    let end = at;
    for (; end < text.length; ++end) {
      if (text[end] === '{') ++depth;
      if (text[end] === '}' && --depth === 0) break;
    }
    cases.push(...[...text.slice(at, end).matchAll(/case '([^']*)':/g)].map((m) => m[1]));
  }
  assert.ok(cases.length > 3, 'found no switch (code) in web/js/messages.js: update this test');
  for (const code of cases) assert.ok(dump.byCode.has(code), `messages.js switches on ${code}, which is in no table`);
});

test("web/js's wire constants equal the C++ ones, and docs/protocol.md names each mirror", async (t) => {
  const dump = loadDump(t);
  if (!dump) return;
  const mirrors = section(read('docs/protocol.md'), '## 7. Constants and their mirrors');
  for (const [module, constants] of Object.entries(dump.constants)) {
    const js = await import(pathToFileURL(join(webDir, 'js', module)).href);
    for (const [name, value] of Object.entries(constants)) {
      assert.deepEqual(js[name], value, `web/js/${module} ${name}`);
      assert.ok(mirrors.includes(`${module}\` \`${name}\``),
                `docs/protocol.md §7 does not name web/js/${module} ${name}`);
    }
  }
});
