// The page: sign in with a requester token, show this browser's identity,
// list the agents, pin their keys, browse a share, download a file. The
// crypto of a transfer runs in transfer_worker.js; this module only loads
// libsodium for the identity key and fingerprints.
//
// State lives in one object; each screen is a <section> of index.html that
// is shown or hidden. One transfer (listing or download) at a time: the relay
// speaks HTTP/1.1 and a browser allows 6 connections per origin, shared by
// every tab of it.
import * as base64 from './base64.js';
import { $, alertText, el, show, status } from './dom.js';
import { DownloadView } from './download_view.js';
import { fingerprintOf } from './fingerprint.js';
import { chooseFolderTarget, downloadFolder, folderModeText } from './folder_download.js';
import { breadcrumbs, formatAgo, formatBytes, formatDate, joinPath, sortEntries } from './format.js';
import { acceptDirectory, Keystore, pinState, RequestClock } from './keystore.js';
import { describeFailure } from './messages.js';
import { generateIdentity } from './noise.js';
import { canStreamToDisk, chooseTarget, MEMORY_LIMIT_BYTES } from './saver.js';
import { openTransferWorker, startTransfer } from './transfer_client.js';

const TOKEN_KEY = 'sealrelay.token';   // sessionStorage: this tab only
const TOKEN_SHAPE = /^srt_[0-9a-f]{16}_[0-9a-f]{64}$/;
const AGENTS_REFRESH_MS = 15_000;
// The buttons that start a transfer: inert (but focusable) while one runs.
const BUSY_BUTTONS = '#agents-table button, #listing button, #crumbs button, #browse-download';

const state = {
  keystore: null,
  identity: null,     // {privateKey, publicKey, created}
  token: null,
  agents: [],         // the relay's directory (a hint)
  pins: new Map(),    // agent → pin (the authority)
  browsing: null,     // {agent, path}
  busy: null,         // the one transfer running: {kind, cancel}
  worker: null,       // Promise of the Worker
  lastMemoryTarget: null,
  clock: new RequestClock(localStorageOrNull()),   // message 1 timestamps, per agent
};

// localStorage, or null where the browser refuses it (its getter may throw).
function localStorageOrNull() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

// ---- Relay API (short JSON calls; transfers go through the Worker) ----

async function api(path, token = state.token) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch (err) {
    throw { kind: 'network', code: 'unreachable', message: err.message };
  }
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    throw { kind: 'relay', code: json?.error ?? `http_${response.status}`, message: json?.message ?? '',
            status: response.status };
  }
  return json;
}

// ---- Boot, identity, sign-in ----

async function boot() {
  if (window.top !== window.self) {
    document.body.textContent = 'sealrelay refuses to run inside a frame.';
    return;
  }
  try {
    state.keystore = await Keystore.open();
    state.identity = await state.keystore.identity(generateIdentity);
    state.pins = await state.keystore.pins();
  } catch (err) {
    show('boot', false);
    alertText(`This browser keeps no storage for this site (${err.message}), so the page cannot keep its key. ` +
              'Leave private browsing, or use the sealrelay CLI.');
    return;
  }
  renderIdentity();
  wire();
  show('boot', false);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) await signIn(saved, { restoring: true });
  else showSignIn();
}

function renderIdentity() {
  const key = base64.encode(state.identity.publicKey);
  const fp = fingerprintOf(state.identity.publicKey);
  $('my-fingerprint').textContent = fp;
  $('my-fingerprint-short').textContent = fp;
  $('my-public-key').textContent = key;
  const day = new Date(state.identity.created).toISOString().slice(0, 10);
  $('auth-line').textContent = `${key} browser ${location.host} ${day}`;
  // Open while no agent is likely to know this key yet.
  $('identity-details').open = state.pins.size === 0;
}

function showSignIn(message = '') {
  for (const id of ['session', 'agents', 'browse', 'download', 'pin-changed', 'save-mode']) show(id, false);
  show('signin');
  show('identity');
  $('token-error').textContent = message;
  show('token-error', Boolean(message));
  $('token').focus();
}

async function signIn(token, { restoring = false } = {}) {
  const fail = (message) => {
    if (restoring) sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(message);
  };
  if (!TOKEN_SHAPE.test(token)) {
    return fail('This is not a requester token: it looks like srt_ followed by 16 and 64 hexadecimal characters.');
  }
  let directory;
  try {
    directory = await api('/v1/agents', token);
  } catch (err) {
    if (err.status === 401) return fail('The relay did not accept this token: it is unknown, revoked or mistyped.');
    if (err.status === 403) return fail('This is an agent token. Sign in with a requester token.');
    return fail(describeFailure(err, { what: 'sign-in' }));
  }
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  show('signin', false);
  show('session');
  $('session-text').textContent = `Signed in to ${location.host}`;
  show('agents');
  renderSaveMode();
  receiveAgents(directory);
  if (!restoring) $('agents-title').focus?.();
  status('Signed in.');
}

function signOut() {
  state.busy?.cancel?.();
  state.token = null;
  state.browsing = null;
  sessionStorage.removeItem(TOKEN_KEY);
  alertText('');
  status('Signed out. The token was forgotten; this browser keeps its identity key and pins.');
  showSignIn();
}

function renderSaveMode() {
  $('save-mode').textContent = canStreamToDisk()
    ? 'Downloads stream straight to disk: you choose where, and the file appears under its name only after it ' +
      'verified.'
    : `This browser cannot stream downloads to disk, so a download is kept in memory until it verified: files over ` +
      `${formatBytes(MEMORY_LIMIT_BYTES)} are refused here. For larger files use Chromium or Edge, or the sealrelay CLI.`;
  $('save-mode').textContent += ` ${folderModeText()}`;
}

// ---- Agents and pins ----

async function refreshAgents({ quiet = false } = {}) {
  if (!state.token) return null;
  try {
    const directory = await api('/v1/agents');
    state.pins = await state.keystore.pins();
    receiveAgents(directory);
    return state.agents;
  } catch (err) {
    if (err.status === 401) {
      signOut();
      showSignIn('The relay no longer accepts your token (unauthorized). Sign in again.');
    } else if (!quiet) {
      alertText(describeFailure(err, { what: 'agent list' }));
    }
    return null;
  }
}

// The key the directory advertises for an agent, checked to be 32 bytes.
function advertisedKey(agent) {
  const key = agent?.public_key ? base64.decode(agent.public_key) : null;
  return key && key.length === 32 ? key : null;
}

// The relay's directory, entries with an id outside the grammar refused
// (keystore.js acceptDirectory) and said so, before anything uses them.
function receiveAgents(directory) {
  const { agents, refused } = acceptDirectory(directory?.agents);
  renderAgents(agents);
  if (refused.length > 0) {
    alertText(`The relay's agent list has ${refused.length === 1 ? 'an entry' : `${refused.length} entries`} this ` +
              `page refused: ${refused.map((r) => `${JSON.stringify(r.id) ?? 'no id'} (${r.why})`).join('; ')}. ` +
              'The relay is misconfigured or lying: tell its operator.');
  }
}

function renderAgents(agents) {
  state.agents = agents;
  const body = $('agents-table').tBodies[0];
  body.replaceChildren();
  for (const a of agents) {
    const key = advertisedKey(a);
    const pin = state.pins.get(a.id);
    const pinned = pinState(pin?.publicKey, key ? a.public_key : null);
    const pinText = { pinned: 'pinned', unpinned: 'not pinned', changed: 'KEY CHANGED', unlisted: 'pinned' }[pinned];
    body.append(el('tr', { dataset: { agent: a.id } },
      el('th', { scope: 'row' }, a.id),
      el('td', {}, el('span', { class: a.online ? 'dot online' : 'dot offline' }, a.online ? 'online' : 'offline')),
      el('td', { title: formatDate(a.last_seen) }, formatAgo(a.last_seen)),
      // Computed here from the key, not taken from the relay's "fingerprint" field.
      el('td', {}, el('code', { class: 'fp' }, key ? fingerprintOf(key) : 'no valid key')),
      el('td', {}, el('span', { class: `pin ${pinned}` }, pinText)),
      el('td', {}, el('button', { type: 'button', 'aria-label': `Browse ${a.id}`, onclick: () => openAgent(a.id) },
                      'Browse'))));
  }
  show('agents-empty', agents.length === 0);
  $('agents-table').parentElement.hidden = agents.length === 0;
  if (state.busy) setBusy(true);
}

// The agent's key to encrypt to, as the CLI decides it: the pin when there
// is one (the directory must agree), else first contact pins what the
// directory shows. null (after telling the person why) when it cannot be used.
async function agentKey(agentId) {
  const agents = await refreshAgents();
  if (!agents) return null;
  const listed = agents.find((a) => a.id === agentId);
  const advertised = advertisedKey(listed);
  const pin = state.pins.get(agentId);
  switch (pinState(pin?.publicKey, advertised ? listed.public_key : null)) {
    case 'changed':
      showPinChanged(agentId, pin, listed.public_key, advertised);
      return null;
    case 'pinned':
    case 'unlisted':
      return base64.decode(pin.publicKey);
    default:
      break;
  }
  if (!listed) {
    alertText(`The relay knows no agent "${agentId}" for your token (unknown_agent).`);
    return null;
  }
  if (!advertised) {
    alertText(`The relay lists agent "${agentId}" without a valid key; nothing was requested.`);
    return null;
  }
  const fp = fingerprintOf(advertised);
  await state.keystore.setPin(agentId, listed.public_key, fp);
  await refreshAgents({ quiet: true });
  $('pin-note').textContent = `First contact with agent "${agentId}": this browser pinned its key, fingerprint ` +
    `${fp}. Compare it with the output of sealrelay-agent init on the agent; from now on a different key is refused.`;
  show('pin-note');
  return advertised;
}

function showPinChanged(agentId, pin, newKeyText, newKey) {
  const fp = fingerprintOf(newKey);
  $('pin-changed-title').textContent = `The key of agent "${agentId}" has changed`;
  $('pin-old').textContent = pin.fingerprint;
  $('pin-new').textContent = fp;
  $('repin').textContent = `Re-pin ${agentId} to ${fp}`;
  $('repin').onclick = async () => {
    await state.keystore.setPin(agentId, newKeyText, fp);
    show('pin-changed', false);
    status(`Re-pinned agent "${agentId}" to ${fp}.`);
    await openAgent(agentId);
  };
  $('repin-cancel').onclick = () => {
    show('pin-changed', false);
    status(`Kept the old pin of agent "${agentId}"; nothing was requested.`);
    $('agents-title').focus?.();
  };
  show('browse', false);
  show('pin-changed');
  $('pin-changed').focus();
}

// ---- Transfers ----

// The one decryption Worker of the page, started on first use.
async function worker() {
  state.worker ??= openTransferWorker().catch((err) => {
    state.worker = null;   // let the next attempt try again
    throw err;
  });
  return state.worker;
}

// A get goes on with a new transfer from the verified bytes when the relay
// loses its stream (transfer.js, maxResumes), up to this many times.
const MAX_RESUMES = 3;

function transferOptions(agent, agentKeyBytes, request) {
  return { token: state.token, agent, agentKey: agentKeyBytes, identity: state.identity, request,
           maxResumes: request.op === 'get' ? MAX_RESUMES : 0, stampFloor: state.clock.take(agent),
           compress: $('compress').checked ? 'auto' : 'off' };
}

// The message 1 timestamps a transfer in the Worker used (its resumes make new ones).
const keepStamp = (agent) => (stamp) => state.clock.used(agent, stamp);

function refuseWhileBusy() {
  if (!state.busy) return false;
  status(`One transfer at a time: wait for the ${state.busy.kind} to finish, or cancel it.`);
  return true;
}

async function openAgent(agentId) {
  show('pin-note', false);
  await navigate(agentId, '/');
}

async function navigate(agentId, path) {
  if (refuseWhileBusy()) return;
  alertText('');
  state.busy = { kind: 'listing', cancel: null };
  setBusy(true);
  try {
    const key = await agentKey(agentId);
    if (!key) return;
    status(`Listing ${path} on ${agentId}…`);
    const t = startTransfer(await worker(), transferOptions(agentId, key, { op: 'list', path }),
                            { onStamp: keepStamp(agentId) });
    state.busy.cancel = t.cancel;
    const result = await t.done;
    state.browsing = { agent: agentId, path };
    renderListing(agentId, path, result.entries);
    // An agent answered this browser: its identity has done its job for now.
    $('identity-details').open = false;
    status(`${agentId}:${path}: ${result.entries.length} ${result.entries.length === 1 ? 'entry' : 'entries'}.`);
  } catch (err) {
    status('');
    alertText(describeFailure(err, { agent: agentId, what: 'listing' }));
  } finally {
    state.busy = null;
    setBusy(false);
  }
}

function setBusy(busy) {
  document.body.classList.toggle('busy', busy);
  for (const b of document.querySelectorAll(BUSY_BUTTONS)) b.setAttribute('aria-disabled', String(busy));
}

function renderListing(agentId, path, entries) {
  show('pin-changed', false);
  show('browse');
  show('save-mode');
  $('browse-title').textContent = `${agentId}:${path}`;
  const here = crumbsName(path);
  $('browse-download').hidden = !here;
  $('browse-download').onclick = () => folder(agentId, path, { name: here });
  const crumbs = breadcrumbs(path);
  $('crumbs').replaceChildren(...crumbs.map((c, i) => el('li', {}, i === crumbs.length - 1
    ? el('span', { 'aria-current': 'page' }, i === 0 ? agentId : c.name)
    : el('button', { type: 'button', class: 'link', onclick: () => navigate(agentId, c.path) },
         i === 0 ? agentId : c.name))));
  const body = $('listing').tBodies[0];
  body.replaceChildren();
  for (const e of sortEntries(entries)) {
    const dir = e.type === 'dir';
    const target = joinPath(path, e.name);
    body.append(el('tr', { dataset: { name: e.name, type: e.type } },
      el('th', { scope: 'row' }, dir
        ? el('button', { type: 'button', class: 'link', onclick: () => navigate(agentId, target) }, `${e.name}/`)
        : el('span', { class: 'file' }, e.name)),
      el('td', { class: 'num', title: dir ? '' : `${e.size} bytes` }, dir ? '' : formatBytes(e.size)),
      el('td', {}, formatDate(e.mtime)),
      el('td', {}, el('button', { type: 'button', 'aria-label': `Download ${e.name}${dir ? ' (folder)' : ''}`,
                                  onclick: () => (dir ? folder : download)(agentId, target, e) },
                      dir ? 'Download folder' : 'Download'))));
  }
  show('listing-empty', entries.length === 0);
  $('listing').parentElement.hidden = entries.length === 0;
  $('browse-title').focus();
}

// A download: the save target first (the click's user activation is
// needed for the save dialog), then the pin check, then the Worker.
async function download(agentId, path, entry) {
  if (refuseWhileBusy()) return;
  alertText('');
  let target;
  try {
    target = await chooseTarget(entry.name, entry.size);
  } catch (err) {
    alertText(`Cannot download ${entry.name}: ${err.message}.`);
    return;
  }
  if (!target) return status('Download not started: no file was chosen.');
  state.lastMemoryTarget?.revoke();
  state.lastMemoryTarget = null;
  const view = new DownloadView(agentId, path, entry);
  state.busy = { kind: 'download', cancel: () => view.cancelRequested() };
  setBusy(true);
  try {
    const key = await agentKey(agentId);
    if (!key) {
      view.fail({ kind: 'cancelled' }, 'Nothing was requested.');
      await target.discard();
      return;
    }
    const t = startTransfer(await worker(), transferOptions(agentId, key, { op: 'get', path }), {
      onChunk: (chunk) => target.write(chunk),
      onAnswer: (answer) => view.answered(answer),
      onProgress: (p) => view.progress(p.bytes, p.size),
      onResume: (r) => view.resumed(r),
      onStamp: keepStamp(agentId),
      recycle: target.streaming,   // the disk copies each chunk; memory keeps them
    });
    view.onCancel(t.cancel);
    const result = await t.done;
    const where = await target.commit();
    if (!target.streaming) state.lastMemoryTarget = target;
    view.done(result.bytes, where, target.url);
  } catch (err) {
    await target.discard();
    view.fail(err);
  } finally {
    state.busy = null;
    setBusy(false);
  }
}

// The last component of a browsed path ('' at the agent's top, where the
// shares are listed and there is no one folder to pull).
const crumbsName = (path) => path.split('/').filter(Boolean).at(-1) ?? '';

// A folder download (folder_download.js): the picker first, as for a file.
async function folder(agentId, path, entry) {
  if (refuseWhileBusy()) return;
  alertText('');
  const target = await chooseFolderTarget(entry.name).catch((err) => alertText(`Cannot download ${entry.name}/: ` +
                                                                               `${err.message}.`));
  if (!target) return;
  state.busy = { kind: 'download', cancel: null };
  setBusy(true);
  try {
    const key = await agentKey(agentId);
    if (!key) return void (await target.abort());
    const w = await worker();
    const start = (request, callbacks) => {
      const t = startTransfer(w, transferOptions(agentId, key, request), { ...callbacks, onStamp: keepStamp(agentId) });
      state.busy.cancel = t.cancel;
      return t;
    };
    await downloadFolder({ agentId, path, name: entry.name, target, start,
                           describeFailure: (err) => describeFailure(err, { agent: agentId }) });
  } finally {
    state.busy = null;
    setBusy(false);
  }
}

// ---- Wiring ----

function wire() {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn($('token').value.trim());
  });
  $('sign-out').addEventListener('click', signOut);
  $('refresh-agents').addEventListener('click', async () => {
    if (await refreshAgents()) status(`Agent list refreshed at ${formatDate(Date.now() / 1000)}.`);
  });
  $('browse-close').addEventListener('click', () => {
    show('browse', false);
    state.browsing = null;
    $('agents-title').focus?.();
  });
  for (const button of document.querySelectorAll('button.copy')) {
    button.addEventListener('click', () => copy($(button.dataset.copy)));
  }
  // A Cancel in the middle of a list or a click on a disabled-looking
  // button: aria-disabled buttons stay focusable but do nothing.
  document.addEventListener('click', (event) => {
    const b = event.target.closest?.(BUSY_BUTTONS);
    if (b && state.busy) {
      event.stopImmediatePropagation();
      event.preventDefault();
      refuseWhileBusy();
    }
  }, true);
  window.addEventListener('beforeunload', (event) => {
    if (state.busy?.kind === 'download') event.preventDefault();
  });
  setInterval(() => {
    if (state.token && !state.busy && document.visibilityState === 'visible') refreshAgents({ quiet: true });
  }, AGENTS_REFRESH_MS);
}

async function copy(node) {
  try {
    await navigator.clipboard.writeText(node.textContent);
    status('Copied.');
  } catch {
    getSelection().selectAllChildren(node);
    status('Copying was not allowed here: the text is selected, press Ctrl+C (or ⌘C).');
  }
}

boot();
