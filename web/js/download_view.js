// The download panel of a file: progress bar, bytes, rate, ETA, cancel, the outcome.
import { $, alertText, show, status } from './dom.js';
import { formatBytes, formatDuration, formatRate, RateMeter } from './format.js';
import { describeFailure } from './messages.js';

export class DownloadView {
  #agent;
  #size;
  #started = performance.now();
  #meter = new RateMeter();
  #cancel = null;
  #cancelled = false;
  #lastPaint = 0;
  #bytes = 0;
  #resumes = 0;

  constructor(agentId, path, entry) {
    this.#agent = agentId;
    this.#size = entry.size;
    const section = $('download');
    section.dataset.state = 'running';
    for (const k of ['elapsedMs', 'resumes', 'errorKind', 'errorCode']) delete section.dataset[k];
    $('dl-name').textContent = entry.name;
    $('dl-from').textContent = `from ${agentId}:${path}`;
    $('dl-progress').max = Math.max(1, entry.size);
    $('dl-progress').value = 0;
    $('dl-figures').textContent = `0 B of ${formatBytes(entry.size)}`;
    $('dl-result').textContent = 'Starting: handshake with the agent…';
    $('dl-result').className = '';
    show('dl-again', false);
    const cancel = $('dl-cancel');
    cancel.hidden = false;
    cancel.disabled = false;
    cancel.onclick = () => this.cancelRequested();
    show('download');
    section.scrollIntoView({ block: 'nearest' });
  }

  onCancel(fn) {
    this.#cancel = fn;
    if (this.#cancelled) fn();
  }

  cancelRequested() {
    this.#cancelled = true;
    $('dl-cancel').disabled = true;
    $('dl-result').textContent = 'Cancelling…';
    this.#cancel?.();
  }

  answered(answer) {
    this.#size = answer.size;
    $('dl-progress').max = Math.max(1, answer.size);
    $('dl-result').textContent = 'Receiving; every frame is checked as it arrives.';
  }

  resumed({ bytes, code }) {
    ++this.#resumes;
    $('download').dataset.resumes = String(this.#resumes);
    $('dl-result').textContent = `The relay lost the stream (${code}); resumed at ${formatBytes(bytes)} with a new ` +
      'handshake. The bytes already received stay, and the final check still covers the whole file.';
  }

  progress(bytes, size) {
    const now = performance.now();
    this.#meter.add(now, bytes);
    this.#bytes = bytes;
    if (now - this.#lastPaint < 100 && bytes < size) return;
    this.#lastPaint = now;
    $('dl-progress').value = bytes;
    const pct = size > 0 ? ` (${Math.floor((bytes * 100) / size)}%)` : '';
    $('dl-figures').textContent = `${formatBytes(bytes)} of ${formatBytes(size)}${pct} · ` +
      `${formatRate(this.#meter.rate())} · ${formatDuration(this.#meter.secondsLeft(size))} left`;
  }

  done(bytes, where, url) {
    const seconds = (performance.now() - this.#started) / 1000;
    const section = $('download');
    section.dataset.state = 'done';
    section.dataset.elapsedMs = String(Math.round(seconds * 1000));
    $('dl-progress').max = Math.max(1, bytes);
    $('dl-progress').value = Math.max(1, bytes);
    $('dl-figures').textContent = `${formatBytes(bytes)} in ${formatDuration(seconds)} ` +
      `(${formatRate(bytes / Math.max(seconds, 0.001))} on average)`;
    const resumed = this.#resumes === 0 ? '' : ` (resumed ${this.#resumes === 1 ? 'once' : `${this.#resumes} times`})`;
    $('dl-result').textContent = `Verified${resumed}: all ${bytes} bytes match the SHA-256 and size the agent ` +
      `sealed. ${where}`;
    $('dl-result').className = 'ok';
    $('dl-cancel').hidden = true;
    if (url) {
      const again = $('dl-again');
      again.href = url;
      again.download = $('dl-name').textContent;
      show('dl-again');
    }
    status(`Downloaded ${$('dl-name').textContent}.`);
  }

  fail(err, extra = '') {
    const section = $('download');
    section.dataset.state = err.kind === 'cancelled' ? 'cancelled' : 'failed';
    section.dataset.errorKind = err.kind ?? 'local';
    section.dataset.errorCode = err.code ?? '';
    $('dl-progress').value = this.#bytes;
    $('dl-figures').textContent = `Stopped after ${formatBytes(this.#bytes)} of ${formatBytes(this.#size)}.`;
    $('dl-result').textContent = `${describeFailure(err, { agent: this.#agent })} ${extra}`.trim();
    $('dl-result').className = err.kind === 'cancelled' ? '' : 'error';
    $('dl-cancel').hidden = true;
    if (err.kind !== 'cancelled') alertText($('dl-result').textContent);
    status(err.kind === 'cancelled' ? 'Download cancelled.' : `Download of ${$('dl-name').textContent} failed.`);
  }
}
