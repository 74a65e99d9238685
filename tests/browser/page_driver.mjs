// Drives the real page (web/, served by a real relay) in headless Chromium
// with playwright-core, as a person would: types the token, clicks, reads
// what the page says. Started by browser_test.cpp, which owns the relay,
// the agent and redis-server and checks the result file this writes.
//
//   node page_driver.mjs SCENARIO
//
// Environment (all set by browser_test.cpp):
//   SEALRELAY_URL          the relay, which serves the page (--web-root web/)
//   SEALRELAY_TOKEN        a requester token
//   SEALRELAY_AUTHORIZED   the agent's authorized_requesters file: the driver
//                          plays the agent's admin and appends the line the
//                          page shows (when the scenario authorizes)
//   SEALRELAY_SYNC         a directory for hand-offs with the C++ side: the
//                          driver creates files there ("frozen") and waits for
//                          the harness's ("tampered"), polling with a deadline
//   SEALRELAY_OUT          where downloads from the browser are saved
//   SEALRELAY_RESULT       the JSON result file
//   SEALRELAY_SCREENSHOTS  where screenshots go (<scenario>-NN-<what>.png)
//   SEALRELAY_CHROMIUM     the browser (Debian's /usr/bin/chromium)
//   SEALRELAY_WEB          web/ (for its node_modules/playwright-core)
//   SEALRELAY_AGENT        the agent the scenario browses (shop-1 unless set)
//
// The File System Access save dialog cannot be clicked in headless Chromium,
// so an init script replaces only the dialog: showSaveFilePicker returns a
// real file handle in the origin-private file system, whose real writable
// stream the page writes to (and closes or aborts) exactly as it would a
// file the person chose. The same shim can hold writes back (the "gate"), to
// freeze the page's reading like SIGSTOP freezes the CLI in tests/e2e, or
// slow them down (`delayMs` per write), like a slow disk.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL_ = env('SEALRELAY_URL');
const TOKEN = env('SEALRELAY_TOKEN');
const SYNC = env('SEALRELAY_SYNC');
const OUT = env('SEALRELAY_OUT');
const SHOTS = env('SEALRELAY_SCREENSHOTS');
const AGENT = process.env.SEALRELAY_AGENT || 'shop-1';
const { chromium } = createRequire(join(env('SEALRELAY_WEB'), 'package.json'))('playwright-core');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LONG = 180_000;   // downloads and waits on the C++ side

const scenario = process.argv[2];
// eventStreams: the Content-Type of each event stream the page (its Workers included) received.
const result = { scenario, ok: false, steps: [], pageErrors: [], screenshots: [], eventStreams: [] };
let page = null;
let shotCount = 0;

function step(text) {
  result.steps.push(text);
  console.log(`[${scenario}] ${text}`);
}

async function shot(what) {
  const file = join(SHOTS, `${scenario}-${String(++shotCount).padStart(2, '0')}-${what}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}

// Hand-offs with the C++ harness.
function signal(name) {
  writeFileSync(join(SYNC, name), '');
}

async function waitForSignal(name, timeoutMs = LONG) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(join(SYNC, name))) {
    if (Date.now() > deadline) throw new Error(`the harness never signalled "${name}"`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The relay re-reads its tokens file about once a second: wait until it
// knows the token made for this run.
async function waitForToken() {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`${URL_}/v1/agents`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    if (response.ok) return;
    if (Date.now() > deadline) throw new Error(`the relay refuses the test token: HTTP ${response.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Replaces the save dialog (see the header) and adds the write gate.
function installSaveShim() {
  const gate = { limit: Infinity, written: 0, holding: false, release: null, delayMs: 0 };
  globalThis.__saveGate = gate;
  globalThis.showSaveFilePicker = async ({ suggestedName }) => {
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(suggestedName, { create: true });
    return {
      name: handle.name,
      async createWritable() {
        const w = await handle.createWritable();
        return {
          async write(chunk) {
            if (gate.written + chunk.byteLength > gate.limit) {
              gate.holding = true;
              await new Promise((resolve) => { gate.release = resolve; });
              gate.holding = false;
            }
            if (gate.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, gate.delayMs));
            gate.written += chunk.byteLength;
            await w.write(chunk);
          },
          close: () => w.close(),
          abort: () => w.abort(),
        };
      },
    };
  };
}

// Replaces the folder dialog as installSaveShim does the save dialog:
// showDirectoryPicker returns a real folder of the origin-private file
// system, `picked`, which the page writes into as into a folder the person
// chose.
function installFolderShim() {
  globalThis.showDirectoryPicker = async () => {
    const root = await navigator.storage.getDirectory();
    return root.getDirectoryHandle('picked', { create: true });
  };
}

// Copies a folder (or file) of the origin-private file system to `dest` on
// disk, for the harness to compare with the source.
async function copyOut(name, dest) {
  const entries = await page.evaluate(async (n) => {
    const out = [];
    const root = await navigator.storage.getDirectory();
    const toBase64 = async (file) => {
      const bytes = new Uint8Array(await file.arrayBuffer());
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    };
    const walk = async (dir, prefix) => {
      for await (const [entry, h] of dir.entries()) {
        if (h.kind === 'directory') {
          out.push({ path: prefix + entry, dir: true });
          await walk(h, `${prefix}${entry}/`);
        } else {
          out.push({ path: prefix + entry, data: await toBase64(await h.getFile()) });
        }
      }
    };
    try {
      const h = await root.getDirectoryHandle(n);
      await walk(h, '');
    } catch {
      const file = await (await root.getFileHandle(n)).getFile();
      out.push({ path: '', data: await toBase64(file) });
    }
    return out;
  }, name);
  for (const e of entries) {
    const path = e.path ? join(dest, e.path) : dest;
    if (e.dir) mkdirSync(path, { recursive: true });
    else writeFileSync(path, Buffer.from(e.data, 'base64'));
  }
  return entries.map((e) => e.path);
}

// {size, sha256} of a file in the origin-private file system, or null.
async function opfsFile(name) {
  return page.evaluate(async (n) => {
    const root = await navigator.storage.getDirectory();
    let file;
    try {
      file = await (await root.getFileHandle(n)).getFile();
    } catch {
      return null;
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return { size: file.size, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, name);
}

async function text(selector) {
  return (await page.locator(selector).textContent())?.trim() ?? '';
}

// ---- Steps shared by the scenarios ----

async function signIn() {
  await page.goto(`${URL_}/`);
  await page.getByLabel('Requester token').waitFor();
  await shot('sign-in');
  await page.getByLabel('Requester token').fill('srt_not_a_token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#token-error').waitFor();
  result.badTokenMessage = await text('#token-error');
  await page.getByLabel('Requester token').fill(TOKEN);
  await page.getByLabel('Requester token').press('Enter');
  await page.locator(`#agents-table tbody tr[data-agent="${AGENT}"]`).waitFor();
  result.tokenInUrl = page.url().includes(TOKEN);
  result.tokenInSessionStorage = await page.evaluate((t) => sessionStorage.getItem('sealrelay.token') === t, TOKEN);
  result.fingerprint = await text('#my-fingerprint');
  result.authLine = await text('#auth-line');
  result.agentRow = await text(`#agents-table tbody tr[data-agent="${AGENT}"]`);
  step(`signed in; this browser is ${result.fingerprint}`);
}

function authorize() {
  appendFileSync(env('SEALRELAY_AUTHORIZED'), `${result.authLine}\n`);
  step('the agent admin appended the page\'s line to authorized_requesters');
}

async function browseAgent() {
  await page.getByRole('button', { name: `Browse ${AGENT}` }).click();
  await page.locator('#browse-title', { hasText: `${AGENT}:/` }).waitFor();
  await page.locator('#listing tbody tr[data-name="demo"]').waitFor();
  result.pinNote = await text('#pin-note');
  step(`listed the shares of ${AGENT}`);
}

async function openDir(name, path) {
  await page.getByRole('button', { name: `${name}/`, exact: true }).click();
  await page.locator('#browse-title', { hasText: `${AGENT}:${path}` }).waitFor();
  await page.locator('body:not(.busy)').waitFor();
}

async function waitForDownload() {
  await page.locator('#download[data-state="done"], #download[data-state="failed"], #download[data-state="cancelled"]' +
                     ', #download[data-state="partial"]').waitFor({ timeout: LONG });
  return {
    state: await page.locator('#download').getAttribute('data-state'),
    elapsedMs: Number(await page.locator('#download').getAttribute('data-elapsed-ms')),
    errorKind: await page.locator('#download').getAttribute('data-error-kind'),
    errorCode: await page.locator('#download').getAttribute('data-error-code'),
    result: await text('#dl-result'),
    figures: await text('#dl-figures'),
  };
}

// ---- Scenarios ----

const scenarios = {
  // Sign in, list agents, browse, download 32 MiB to disk (the File System
  // Access path), the agents list shows the pin.
  async download() {
    await signIn();
    await shot('agents');
    authorize();
    await browseAgent();
    await shot('shares-first-contact');
    // By keyboard: a focused folder opens with Enter, and focus moves to its listing.
    await page.getByRole('button', { name: 'demo/', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#browse-title', { hasText: `${AGENT}:/demo` }).waitFor();
    await page.locator('body:not(.busy)').waitFor();
    result.focusAfterListing = await page.evaluate(() => document.activeElement?.id);
    result.listing = await page.locator('#listing tbody tr').evaluateAll(
      (rows) => rows.map((r) => ({ name: r.dataset.name, type: r.dataset.type, text: r.innerText })));
    await openDir('sub dir', '/demo/sub dir');
    result.subListing = await page.locator('#listing tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));
    result.crumbs = await text('#crumbs');
    await page.locator('#crumbs').getByRole('button', { name: 'demo' }).click();
    await page.locator('#browse-title', { hasText: `${AGENT}:/demo` }).waitFor();
    await page.locator('body:not(.busy)').waitFor();
    await shot('listing');
    await page.getByRole('button', { name: 'Download big.bin' }).click();
    result.download = await waitForDownload();
    await shot('downloaded');
    result.disk = await opfsFile('big.bin');
    // The page's Workers: decryption, and the SHA-256 beside it.
    result.workers = page.workers().map((w) => new URL(w.url()).pathname).sort();
    result.agentRowAfter = await text(`#agents-table tbody tr[data-agent="${AGENT}"]`);
    await page.setViewportSize({ width: 400, height: 860 });
    await shot('narrow-screen');
    step(`download: ${JSON.stringify(result.download)}`);
  },

  // Where the browser has no File System Access API, the download is held
  // in memory and handed over as a Blob once verified.
  async memory() {
    await page.addInitScript(() => { delete globalThis.showSaveFilePicker; });
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    result.saveMode = await text('#save-mode');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: LONG }),
      page.getByRole('button', { name: 'Download big.bin' }).click(),
    ]);
    const saved = join(OUT, 'memory-big.bin');
    await download.saveAs(saved);
    result.memoryPath = saved;
    result.download = await waitForDownload();
    await shot('downloaded-in-memory');
    step(`download: ${JSON.stringify(result.download)}`);
  },

  // A CSV through the page with compression (the switch as the page starts:
  // on) and then with the switch off; the relay's committed bytes (its
  // /metrics) before and after each download.
  async compressed() {
    const committed = async () => {
      const m = (await (await fetch(`${URL_}/metrics`)).text())
        .match(/\nsealrelay_bytes_committed_total(?:\{[^}]*\})? ([0-9.e+]+)/);
      return m ? Number(m[1]) : Number.NaN;
    };
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    result.switchOn = await page.locator('#compress').isChecked();
    for (const mode of ['auto', 'off']) {
      if (mode === 'off') await page.getByLabel('Compress transfers').uncheck();
      await page.evaluate(() => document.getElementById('download').removeAttribute('data-state'));
      const before = await committed();
      await page.getByRole('button', { name: 'Download sales.csv' }).click();
      result[mode] = { download: await waitForDownload() };
      result[mode].committed = (await committed()) - before;
      result[mode].disk = await opfsFile('sales.csv');
      await shot(`downloaded-compress-${mode}`);
      step(`compress ${mode}: ${JSON.stringify(result[mode])}`);
    }
  },

  // Cancel in the middle: the page says so, nothing is saved, the relay's
  // transfer is cancelled.
  async cancel() {
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    await page.evaluate(() => { globalThis.__saveGate.limit = 4 * 1024 * 1024; });
    await page.getByRole('button', { name: 'Download big.bin' }).click();
    await page.waitForFunction(() => globalThis.__saveGate.holding, null, { timeout: LONG });
    // While a download runs, a second transfer is refused, not started (the
    // button is aria-disabled, which Playwright will not click unforced).
    await page.getByRole('button', { name: 'sub dir/', exact: true }).click({ force: true });
    result.busyStatus = await text('#status');
    await shot('downloading');
    await page.getByRole('button', { name: 'Cancel download' }).click();
    await page.evaluate(() => { globalThis.__saveGate.limit = Infinity; globalThis.__saveGate.release?.(); });
    result.download = await waitForDownload();
    await shot('cancelled');
    result.disk = await opfsFile('big.bin');
    const transfers = await (await fetch(`${URL_}/v1/transfers`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    result.relayStates = transfers.transfers.map((t) => t.state);
    step(`download: ${JSON.stringify(result.download)}; relay: ${result.relayStates}`);
  },

  // The browser's key is not authorized: the agent's refusal is shown.
  async refused() {
    await signIn();
    await page.getByRole('button', { name: `Browse ${AGENT}` }).click();
    await page.locator('#alert').waitFor();
    await page.locator('body:not(.busy)').waitFor();
    result.alert = await text('#alert');
    await shot('refused');
    step(`alert: ${result.alert}`);
    // A reload keeps the tab signed in (sessionStorage) and the same key
    // (IndexedDB); signing out forgets the token, not the key.
    await page.reload();
    await page.locator(`#agents-table tbody tr[data-agent="${AGENT}"]`).waitFor();
    result.fingerprintAfterReload = await text('#my-fingerprint');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Requester token').waitFor();
    result.tokenAfterSignOut = await page.evaluate(() => sessionStorage.getItem('sealrelay.token'));
    result.agentsVisibleAfterSignOut = await page.locator('#agents').isVisible();
  },

  // A frame changed in the relay's Redis: the page reports an integrity
  // failure and the file is not saved. The harness does the tampering while
  // the page holds its reading (the gate).
  async tamper() {
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    await page.evaluate(() => { globalThis.__saveGate.limit = 4 * 1024 * 1024; });
    await page.getByRole('button', { name: 'Download ledger.bin' }).click();
    await page.waitForFunction(() => globalThis.__saveGate.holding, null, { timeout: LONG });
    await shot('download-in-progress');
    signal('frozen');
    step('the page holds its reading; waiting for the harness to tamper');
    await waitForSignal('tampered');
    await page.evaluate(() => { globalThis.__saveGate.limit = Infinity; globalThis.__saveGate.release(); });
    result.download = await waitForDownload();
    result.alert = await text('#alert');
    await shot('integrity-error');
    result.disk = await opfsFile('ledger.bin');
    step(`download: ${JSON.stringify(result.download)}`);
  },

  // The relay is killed and restarted while the page holds its reading: the
  // frames Chromium had read ahead are lost with the connection, the relay
  // no longer holds them (gone), and the page goes on with a new transfer
  // from the bytes it verified.
  async restart() {
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    await page.evaluate(() => { globalThis.__saveGate.limit = 4 * 1024 * 1024; });
    await page.getByRole('button', { name: 'Download video.bin' }).click();
    await page.waitForFunction(() => globalThis.__saveGate.holding, null, { timeout: LONG });
    signal('frozen');
    await waitForSignal('restarted');
    // Released as a slow disk: Chromium notices the broken connection only
    // once it has passed on what the socket held, and a page that reads fast
    // may by then have taken it all (nothing lost, no resume); read slowly,
    // Chromium still holds a few MiB for the page when the error comes, and
    // drops them.
    await page.evaluate(() => {
      Object.assign(globalThis.__saveGate, { limit: Infinity, delayMs: 100 });
      globalThis.__saveGate.release();
    });
    await page.locator('#download[data-resumes], #download:not([data-state="running"])').waitFor({ timeout: LONG });
    await page.evaluate(() => { globalThis.__saveGate.delayMs = 0; });
    result.resumedText = await text('#dl-result');
    await shot('resumed');
    result.download = await waitForDownload();
    result.resumes = Number(await page.locator('#download').getAttribute('data-resumes'));
    await shot('downloaded-after-resume');
    result.disk = await opfsFile('video.bin');
    step(`download: ${JSON.stringify(result.download)}; resumes ${result.resumes}`);
  },

  // The engine's base64 (Uint8Array.fromBase64 / setFromBase64, which the
  // page uses for frames) held to the same table as the JS decoder: every
  // non-canonical text refused by decode() and decodeInto(), and canonical
  // text of every length decoded alike by all of them.
  async codecs() {
    await page.goto(`${URL_}/`);
    result.codecs = await page.evaluate(async () => {
      const base64 = await import('/js/base64.js');
      const NON_CANONICAL = ['A', 'AA', 'AAA', 'AA=', '=AAA', 'A=AA', 'AA=A', 'AAA==', 'A===', '====', '-_8=',
                             '+/9=', 'AB==', 'AAB=', ' AAA', 'AAA ', 'AA\nAA===', 'AAAA\n', 'AA AA', 'AAAA    ',
                             'AA==    ', 'AA\tA', 'QUJD\u00e9AAA', 'QUJDRA', 'QUJ\u0141', '\u0100AAA'];
      const accepted = [];
      for (const bad of NON_CANONICAL) {
        if (base64.decode(bad) !== null) accepted.push(`decode ${JSON.stringify(bad)}`);
        if (base64.decodeInto(bad, new Uint8Array(64)) !== -1) accepted.push(`decodeInto ${JSON.stringify(bad)}`);
      }
      const disagreements = [];
      for (let n = 0; n < 100; ++n) {
        const bytes = crypto.getRandomValues(new Uint8Array(n));
        const text = base64.encode(bytes);
        const want = Array.from(bytes).join();
        for (const [name, decoder] of Object.entries(base64.decodersForTest)) {
          const got = !decoder ? null : name.endsWith('Into') ? decoder(text, 3) : decoder(text);
          if (decoder && Array.from(got ?? []).join() !== want) disagreements.push(`${name} n=${n}`);
        }
      }
      return { native: typeof Uint8Array.fromBase64 === 'function', accepted, disagreements,
               decoders: Object.keys(base64.decodersForTest).filter((k) => base64.decodersForTest[k]) };
    });
    step(`codecs: ${JSON.stringify(result.codecs)}`);
  },

  // browser_bench.cpp: one download of bench.bin to disk, timed by the page;
  // the signals frame the download for the bench's CPU accounting.
  async bench() {
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    signal('downloading');
    await page.getByRole('button', { name: 'Download bench.bin' }).click();
    result.download = await waitForDownload();
    signal('downloaded');
    result.disk = await opfsFile('bench.bin');
    step(`download: ${JSON.stringify(result.download)}`);
  },

  // "Download folder" on demo/tree into the picked folder (the shim's
  // OPFS folder), copied out to OUT/picked for the harness to compare.
  async folder() {
    await page.addInitScript(installFolderShim);
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    result.saveMode = await text('#save-mode');
    await page.getByRole('button', { name: 'Download tree (folder)' }).click();
    result.download = await waitForDownload();
    result.problems = await page.locator('#dl-result li').allInnerTexts();
    await shot('folder-downloaded');
    result.copied = await copyOut('picked', join(OUT, 'picked'));
    step(`folder: ${JSON.stringify(result.download)}; ${result.copied.length} entries`);
  },

  // "Download folder" on demo/sub dir, which the agent refuses (the Windows
  // agent serves no folder pulls yet): what the page tells the person.
  async folderrefused() {
    await page.addInitScript(installFolderShim);
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    await page.getByRole('button', { name: 'Download sub dir (folder)' }).click();
    result.download = await waitForDownload();
    result.alert = await page.locator('#alert').isVisible() ? await text('#alert') : '';
    await shot('folder-refused');
    step(`folder refused: ${JSON.stringify(result.download)}; alert: ${result.alert}`);
  },

  // The same where the browser has no folder picker: one zip through the
  // save dialog (the shim's OPFS file), copied out to OUT/tree.zip.
  async folderzip() {
    await page.addInitScript(() => { delete globalThis.showDirectoryPicker; });
    await signIn();
    authorize();
    await browseAgent();
    await openDir('demo', '/demo');
    result.saveMode = await text('#save-mode');
    // From inside the folder this time: the button of the folder shown.
    await openDir('tree', '/demo/tree');
    await page.getByRole('button', { name: 'Download this folder' }).click();
    result.download = await waitForDownload();
    result.problems = await page.locator('#dl-result li').allInnerTexts();
    await shot('folder-zip-downloaded');
    await copyOut('tree.zip', join(OUT, 'tree.zip'));
    result.staging = await page.evaluate(async () => {
      const names = [];
      for await (const name of (await navigator.storage.getDirectory()).keys()) names.push(name);
      return names;
    });
    step(`folder as zip: ${JSON.stringify(result.download)}`);
  },

  // The agent comes back with a new key: refused loudly with both
  // fingerprints until the person re-pins.
  async rekey() {
    await signIn();
    authorize();
    await browseAgent();
    result.pinnedFingerprint = (result.agentRow.match(/[A-Z2-7]{4}(-[A-Z2-7]{4}){5}/) ?? [null])[0];
    signal('pinned');
    await waitForSignal('rekeyed');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator(`#agents-table tbody tr[data-agent="${AGENT}"] .pin.changed`).waitFor();
    result.agentRowChanged = await text(`#agents-table tbody tr[data-agent="${AGENT}"]`);
    await page.getByRole('button', { name: `Browse ${AGENT}` }).click();
    await page.locator('#pin-changed').waitFor();
    result.pinChanged = {
      title: await text('#pin-changed-title'),
      old: await text('#pin-old'),
      new: await text('#pin-new'),
      focused: await page.evaluate(() => document.activeElement?.id),
    };
    await shot('key-changed');
    await page.getByRole('button', { name: new RegExp(`^Re-pin ${AGENT} to `) }).click();
    await page.locator('#listing tbody tr[data-name="demo"]').waitFor();
    await page.locator('body:not(.busy)').waitFor();
    result.agentRowRepinned = await text(`#agents-table tbody tr[data-agent="${AGENT}"]`);
    step(`pin changed: ${JSON.stringify(result.pinChanged)}`);
  },
};

async function main() {
  if (!scenarios[scenario]) throw new Error(`no scenario "${scenario}"`);
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  await waitForToken();
  result.served = {};
  for (const path of ['/', '/js/app.js', '/vendor/libsodium.mjs', '/css/app.css']) {
    const response = await fetch(`${URL_}${path}`);
    result.served[path] = { status: response.status, type: response.headers.get('content-type'),
                            csp: response.headers.get('content-security-policy'),
                            nosniff: response.headers.get('x-content-type-options') };
  }
  const profile = mkdtempSync(join(tmpdir(), 'sealrelay-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: env('SEALRELAY_CHROMIUM'),
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    downloadsPath: OUT,
    viewport: { width: 1180, height: 820 },
  });
  try {
    context.setDefaultTimeout(30_000);
    await context.addInitScript(installSaveShim);
    context.on('response', (response) => {
      if (/^\/v1\/transfers\/[^/]+\/events$/.test(new URL(response.url()).pathname)) {
        result.eventStreams.push(response.headers()['content-type'] ?? '');
      }
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (err) => result.pageErrors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') result.pageErrors.push(`console: ${msg.text()}`);
    });
    await scenarios[scenario]();
    result.ok = true;
  } catch (err) {
    result.error = `${err.message}\n${err.stack ?? ''}`;
    if (page) await shot('failure').catch(() => {});
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  result.error = `${err.message}\n${err.stack ?? ''}`;
}
writeFileSync(env('SEALRELAY_RESULT'), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result, null, 2));
process.exit(result.ok ? 0 : 1);
