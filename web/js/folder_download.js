// "Download folder" (issue 17): one `tree` transfer (docs/protocol.md
// §4.5) decoded by tree_stream.js as the Worker hands its plaintext over,
// into the folder the person picks (FolderSaver) or one .zip (ZipSaver).
// Uses the download panel of index.html; app.js passes what it owns in `ctx`.
import { $ } from './dom.js';
import { formatBytes, formatDuration, formatRate, RateMeter } from './format.js';
import { MEMORY_LIMIT_BYTES } from './saver.js';
import { FolderSaver, ZipSaver, canPickFolder } from './tree_saver.js';
import { TreeDecoder } from './tree_stream.js';

// What the page says about folder downloads in this browser.
export function folderModeText() {
  if (canPickFolder()) {
    return 'Folders download into a folder you pick; each file gets its name only after its own SHA-256 verified.';
  }
  if (typeof globalThis.showSaveFilePicker === 'function') {
    return 'Folders download as one .zip streamed to disk; each file is held in the browser\'s private storage ' +
      'until its SHA-256 verified, and only then added.';
  }
  return `This browser can neither pick a folder nor stream to disk: a folder downloads as one .zip kept in ` +
    `memory (at most ${formatBytes(MEMORY_LIMIT_BYTES)}) and offered once the whole stream verified. For larger ` +
    'folders use Chromium or Edge, or `sealrelay get -r`.';
}

// Asks where the folder goes; call it first in the click handler (the
// pickers need its user activation). Resolves null when the person closes
// the dialog. → {saver(onProgress), finish(), abort(), where}
export async function chooseFolderTarget(name) {
  try {
    if (canPickFolder()) {
      const picked = await globalThis.showDirectoryPicker({ mode: 'readwrite' });
      const root = await picked.getDirectoryHandle(name, { create: true });
      let saver;
      return { make: (onProgress) => (saver = new FolderSaver(root, { onProgress })),
               finish: async () => {}, abort: () => saver?.abortFile(),
               where: `into ${picked.name}/${name}/` };
    }
    const out = typeof globalThis.showSaveFilePicker === 'function'
      ? await (await globalThis.showSaveFilePicker({ suggestedName: `${name}.zip` })).createWritable()
      : new MemoryZip(`${name}.zip`);
    const opfs = await navigator.storage.getDirectory();
    const staging = await opfs.getDirectoryHandle(`sealrelay-staging-${Date.now()}`, { create: true });
    const dropStaging = () => opfs.removeEntry(staging.name, { recursive: true }).catch(() => {});
    let saver;
    return { make: (onProgress) => (saver = new ZipSaver(out, staging, { onProgress, folder: { name } })),
             finish: async () => { await saver.finish(); await dropStaging(); },
             abort: async () => { await saver?.abort(); await dropStaging(); },
             where: `as ${name}.zip` };
  } catch (err) {
    if (err?.name === 'AbortError') return null;
    throw err;
  }
}

// The zip where the browser cannot stream to disk: in memory, up to the cap,
// handed to the browser's downloads once complete.
class MemoryZip {
  #parts = [];
  #bytes = 0;
  constructor(name) { this.name = name; }
  write(bytes) {
    this.#bytes += bytes.length;
    if (this.#bytes > MEMORY_LIMIT_BYTES) {
      throw new Error(`the zip would pass ${formatBytes(MEMORY_LIMIT_BYTES)}, more than this browser can hold`);
    }
    this.#parts.push(bytes.slice());
  }
  close() {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob(this.#parts, { type: 'application/zip' }));
    a.download = this.name;
    a.click();
    this.#parts = [];
  }
  abort() { this.#parts = []; }
}

// Runs the download. ctx: {agentId, path, name, target (chooseFolderTarget's),
// start(request, callbacks) → {done, cancel} (app.js's startTransfer with
// its options), describeFailure(err)}.
export async function downloadFolder(ctx) {
  const view = new FolderView(ctx);
  const saver = ctx.target.make((p) => view.progress(p));
  const decoder = new TreeDecoder(saver);
  try {
    const t = ctx.start({ op: 'tree', path: ctx.path }, {
      onAnswer: (answer) => view.answered(answer),
      onChunk: (chunk) => decoder.feed(chunk),
      recycle: true,   // the savers copy what they keep
    });
    view.onCancel(t.cancel);
    await t.done;
    decoder.finish();
    await ctx.target.finish();
    view.done(saver.summary, ctx.target.where);
    return saver.summary;
  } catch (err) {
    await ctx.target.abort();
    view.fail(err.kind ? err : { kind: 'integrity', code: err.code ?? 'local_error', message: err.message },
              saver.summary);
    return null;
  }
}

class FolderView {
  #ctx;
  #files = 0;
  #started = performance.now();
  #meter = new RateMeter();
  #lastPaint = 0;

  constructor(ctx) {
    this.#ctx = ctx;
    const section = $('download');
    section.dataset.state = 'running';
    section.dataset.kind = 'folder';
    $('dl-name').textContent = `${ctx.name}/`;
    $('dl-from').textContent = `from ${ctx.agentId}:${ctx.path}`;
    $('dl-progress').value = 0;
    $('dl-figures').textContent = '';
    $('dl-result').textContent = 'Starting: handshake with the agent…';
    $('dl-result').className = '';
    $('dl-again').hidden = true;
    $('dl-cancel').hidden = false;
    $('dl-cancel').disabled = false;
    section.hidden = false;
  }

  onCancel(fn) {
    $('dl-cancel').onclick = () => { $('dl-cancel').disabled = true; fn(); };
  }

  answered(answer) {
    this.#files = answer.files;
    $('dl-progress').max = Math.max(1, answer.size);
    $('dl-result').textContent = 'Receiving; each file is checked against its own SHA-256 before it gets its name.';
  }

  progress({ files, bytes, path }) {
    const now = performance.now();
    this.#meter.add(now, bytes);
    if (now - this.#lastPaint < 100) return;
    this.#lastPaint = now;
    $('dl-progress').value = bytes;
    $('dl-figures').textContent = `${files} of ${this.#files} files · ${formatBytes(bytes)} · ` +
      `${formatRate(this.#meter.rate())} · ${path}`;
  }

  done(summary, where) {
    const seconds = (performance.now() - this.#started) / 1000;
    const section = $('download');
    const problems = summary.skipped.length + summary.failed.length + summary.unlisted;
    section.dataset.state = problems ? 'partial' : 'done';
    section.dataset.files = String(summary.files);
    $('dl-progress').value = $('dl-progress').max;
    $('dl-figures').textContent = `${summary.files} files, ${summary.dirs} folders, ${formatBytes(summary.bytes)} ` +
      `in ${formatDuration(seconds)}`;
    $('dl-result').className = problems ? 'error' : 'ok';
    $('dl-result').replaceChildren(`Saved ${where}: ${summary.files} files, each verified against its SHA-256.` +
      (problems ? ` ${problems} not saved:` : ''), listOf(summary));
    $('dl-cancel').hidden = true;
  }

  fail(err, summary) {
    const section = $('download');
    section.dataset.state = err.kind === 'cancelled' ? 'cancelled' : 'failed';
    section.dataset.errorCode = err.code ?? '';
    $('dl-result').className = err.kind === 'cancelled' ? '' : 'error';
    // An agent from before folder pulls refuses op tree as a bad request (docs/protocol.md §4.5).
    const why = err.kind === 'refused' && err.code === 'bad_request'
      ? `Agent "${this.#ctx.agentId}" cannot send folders: it is older than folder downloads. Upgrade ` +
        'sealrelay-agent there, or download the files one by one.'
      : this.#ctx.describeFailure(err);
    $('dl-result').replaceChildren(`${why} ${summary.files} files had verified before it stopped.`, listOf(summary));
    $('dl-cancel').hidden = true;
  }
}

// The skipped and failed entries, the first 50 of them (the count says the rest).
function listOf({ skipped, failed, unlisted }) {
  const rows = [...failed.map((f) => ({ ...f, how: 'failed' })), ...skipped.map((s) => ({ ...s, how: 'skipped' }))];
  const ul = document.createElement('ul');
  ul.className = 'tree-problems';
  for (const r of rows.slice(0, 50)) {
    const li = document.createElement('li');
    li.textContent = `${r.path}: ${r.how}, ${r.reason}`;
    ul.append(li);
  }
  const more = rows.length - Math.min(rows.length, 50) + unlisted;
  if (more > 0) ul.append(Object.assign(document.createElement('li'), { textContent: `… and ${more} more` }));
  return ul;
}
