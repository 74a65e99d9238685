// The pieces of a .zip written as it goes (PKWARE APPNOTE 6.3.x): stored
// entries (no compression), UTF-8 names, and zip64 where a size, an offset
// or the count needs it. Pure: returns bytes; tree_saver.js's ZipSaver
// decides what goes in and when. Each entry's local header carries its CRC
// and sizes (the file was staged and verified first), so no data
// descriptors are needed.
import { utf8 } from './bytes.js';

const U32 = 0xffffffff;
const U16 = 0xffff;
const UTF8_NAMES = 0x0800;       // general purpose flag bit 11
const UNIX = 3 << 8;             // "version made by": the upper byte is the host system
const ZIP64_EXTRA = 0x0001;

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; ++n) {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

// The zip's CRC-32, incrementally.
export class Crc32 {
  #crc = -1;

  update(bytes) {
    let c = this.#crc;
    for (let i = 0; i < bytes.length; ++i) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    this.#crc = c;
    return this;
  }

  get value() {
    return (this.#crc ^ -1) >>> 0;
  }
}

// MS-DOS time and date of unix seconds (local time, as zip tools read it);
// before 1980 becomes 1980-01-01.
function dosTime(mtime) {
  const d = new Date(mtime * 1000);
  if (!(d.getFullYear() >= 1980)) return { time: 0, date: (1 << 5) | 1 };
  return { time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
           date: ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate() };
}

class Writer {
  constructor(length) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
    this.at = 0;
  }

  u16(v) { this.view.setUint16(this.at, v, true); this.at += 2; return this; }
  u32(v) { this.view.setUint32(this.at, v, true); this.at += 4; return this; }
  u64(v) { this.view.setBigUint64(this.at, BigInt(v), true); this.at += 8; return this; }
  put(b) { this.bytes.set(b, this.at); this.at += b.length; return this; }
}

// entry: {path (folders end with '/'), size, crc, mtime, mode, offset (of its
// local header in the zip)}. `zip64` forces the zip64 fields (tests).
function zip64Fields(entry, zip64, central) {
  const fields = [];
  if (zip64 || entry.size >= U32) fields.push(entry.size, entry.size);    // uncompressed, compressed
  if (central && (zip64 || entry.offset >= U32)) fields.push(entry.offset);
  return fields;
}

function extraOf(fields) {
  if (fields.length === 0) return new Uint8Array(0);
  const w = new Writer(4 + 8 * fields.length).u16(ZIP64_EXTRA).u16(8 * fields.length);
  for (const f of fields) w.u64(f);
  return w.bytes;
}

export function localHeader(entry, { zip64 = false } = {}) {
  const name = utf8(entry.path);
  const big = zip64 || entry.size >= U32;
  const extra = extraOf(big ? [entry.size, entry.size] : []);
  const { time, date } = dosTime(entry.mtime);
  return new Writer(30 + name.length + extra.length)
    .u32(0x04034b50).u16(big ? 45 : 20).u16(UTF8_NAMES).u16(0).u16(time).u16(date).u32(entry.crc)
    .u32(big ? U32 : entry.size).u32(big ? U32 : entry.size).u16(name.length).u16(extra.length)
    .put(name).put(extra).bytes;
}

export function centralHeader(entry, { zip64 = false } = {}) {
  const name = utf8(entry.path);
  const fields = zip64Fields(entry, zip64, true);
  const bigSize = zip64 || entry.size >= U32;
  const bigOffset = zip64 || entry.offset >= U32;
  const extra = extraOf(fields);
  const { time, date } = dosTime(entry.mtime);
  const folder = entry.path.endsWith('/');
  const attributes = (((folder ? 0o40000 : 0o100000) | entry.mode) * 0x10000 + (folder ? 0x10 : 0)) >>> 0;
  const version = fields.length ? 45 : 20;
  return new Writer(46 + name.length + extra.length)
    .u32(0x02014b50).u16(UNIX | version).u16(version).u16(UTF8_NAMES).u16(0).u16(time).u16(date).u32(entry.crc)
    .u32(bigSize ? U32 : entry.size).u32(bigSize ? U32 : entry.size).u16(name.length).u16(extra.length)
    .u16(0).u16(0).u16(0).u32(attributes).u32(bigOffset ? U32 : entry.offset)
    .put(name).put(extra).bytes;
}

// What follows the central directory: the zip64 end record and its locator
// when the count, the directory's size or its offset need them, then the
// end of central directory record.
export function endRecords({ count, centralOffset, centralBytes }, { zip64 = false } = {}) {
  const big = zip64 || count >= U16 || centralOffset >= U32 || centralBytes >= U32;
  const w = new Writer((big ? 56 + 20 : 0) + 22);
  if (big) {
    const at = centralOffset + centralBytes;
    w.u32(0x06064b50).u64(44).u16(UNIX | 45).u16(45).u32(0).u32(0).u64(count).u64(count).u64(centralBytes)
      .u64(centralOffset);
    w.u32(0x07064b50).u32(0).u64(at).u32(1);
  }
  w.u32(0x06054b50).u16(0).u16(0).u16(big ? U16 : count).u16(big ? U16 : count)
    .u32(big ? U32 : centralBytes).u32(big ? U32 : centralOffset).u16(0);
  return w.bytes;
}
