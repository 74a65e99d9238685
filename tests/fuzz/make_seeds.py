#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/.

The seeds are small, valid (or nearly valid) inputs in each target's input
layout, so the fuzzer starts from the shapes the real code sees. Run it again
after changing a target's input layout; the files are committed.
"""
import base64
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s if isinstance(s, bytes) else s.encode())


b64 = lambda b: base64.b64encode(b).decode()

# fuzz_sse: byte (number of split bytes) + split bytes + stream text.
streams = [
    "event: answer\nid: 0\ndata: %s\n\n" % b64(b"m2" * 30),
    "event: frame\nid: 1\ndata: %s\n\nevent: frame\nid: 2\ndata: %s\n\nevent: end\nid: 3\ndata: {\"frames\":2}\n\n"
    % (b64(bytes(range(60))), b64(b"x" * 50)),
    ": hb\n\n: hb\n\nevent: error\ndata: {\"error\":\"cancelled\",\"message\":\"cancelled\"}\n\n",
    "event: gone\ndata: {\"earliest\":5}\n\n",
    "\ufeffevent: transfer\r\nid: 1732140000123-0\r\ndata: {\"transfer_id\":\"t_1\",\"msg1\":\"QUJD\",\"created\":1}\r\n\r\n",
    "retry: 1000\nid\ndata\ndata: a\ndata:b\n\n\rdata: c\r\revent: cancel\ndata: {}\n\n",
]
write("fuzz_sse", [b"\x00" + s.encode() for s in streams] + [b"\x03\x01\x07\x02" + streams[1].encode()])


# fuzz_upload: byte stop_after, byte (number of split bytes), splits, body.
def records(frames, end):
    out = b"".join(struct.pack(">I", len(f)) + f for f in frames)
    return out + (b"\x00\x00\x00\x00" if end else b"")


write("fuzz_upload", [
    b"\xff\x00" + records([b"a", b"bb" * 20, bytes(range(256))[:200]], True),
    b"\xff\x00" + records([b"x" * 100], False),
    b"\xff\x02\x05\x09" + records([b"y" * 300, b"z"], True),
    b"\xff\x00" + records([b"q"], True) + b"trailing",
    b"\xff\x00" + struct.pack(">I", 301) + b"w" * 10,
    b"\x01\x00" + records([b"a", b"b"], True),
])

# fuzz_event_stream: byte (number of split bytes) + split bytes + records.
def event_records(events):
    return b"".join(struct.pack(">BQI", t, i, len(d)) + d for t, i, d in events)


write("fuzz_event_stream", [
    b"\x00" + event_records([(1, 0, b64(b"m2" * 30).encode()), (0, 0, b""), (2, 1, bytes(range(60))),
                             (2, 2, b"x" * 50), (3, 3, b'{"frames":2}')]),
    b"\x02\x05\x09" + event_records([(2, 7, b"\x00" * 200), (4, 0, b'{"error":"cancelled","message":"c"}')]),
    b"\x00" + event_records([(5, 0, b'{"earliest":5}')]),
    b"\x00" + event_records([(2, 1, b"y" * 10)]) + struct.pack(">BQI", 2, 2, 301) + b"w" * 10,
    b"\x00" + event_records([(0, 0, b"")]) + b"\x06" + b"\x00" * 12,
])

write("fuzz_base64", ["", "QQ==", "QUI=", "QUJD", "+/8=", b64(bytes(range(256))), "QR==", "QUJ=", "A===",
                      "QUJD\n", " QUJD", "QU=D"])


# fuzz_frames: setup byte (bit0: first index near 2^64, bits1-3: chunks,
# bit4: stale prefix), [u16 first index], prefix length, chunk sizes, then ops
# (op, k, extra bytes).
def frames_seed(chunks, ops, first=0, prefix=0, stale=False, high=False):
    setup = (1 if high else 0) | (chunks << 1) | (0x10 if stale else 0)
    out = bytes([setup]) + (b"" if high else struct.pack(">H", first)) + bytes([prefix])
    out += bytes([50 + i for i in range(chunks)])
    for op in ops:
        out += bytes(op)
    return out


honest3 = [(0, 0), (0, 1), (0, 2), (0, 3)]
write("fuzz_frames", [
    frames_seed(3, honest3),
    frames_seed(3, honest3, first=7, prefix=5),
    frames_seed(3, honest3, prefix=5, stale=True),
    frames_seed(3, [(0, 1), (0, 0)]),                   # reordered
    frames_seed(3, [(0, 0), (0, 0)]),                   # duplicated
    frames_seed(3, [(0, 0), (0, 2)]),                   # dropped
    frames_seed(3, [(0, 0), (1, 1, 0, 40, 1)]),         # a changed byte
    frames_seed(3, [(0, 0), (2, 1)]),                   # spliced from another transfer
    frames_seed(3, [(0, 0), (3, 0, 0, 60)] + [(7,)] * 60),  # raw bytes
    frames_seed(3, [(0, 0), (4, 1, 0, 10)]),            # cut short
    frames_seed(0, [(0, 0)]),                           # an empty file: the trailer alone
    frames_seed(2, [(0, 0), (0, 1), (0, 2)], high=True),
    frames_seed(3, honest3 + [(0, 3)]),                 # after the end
])

# fuzz_handshake: mode byte, then mode-specific bytes.
write("fuzz_handshake", [b"\x00" + bytes(range(96)), b"\x02\x00\x10\x01", b"\x02\x00\x40\x80", b"\x01" + bytes(48),
                         b"\x03", b"\x07\x00\x05\x01", b"\x07\x00\x30\xff"])

req = {"v": 1, "op": "get", "path": "/photos/2026/a.jpg", "offset": 0, "chunk_size": 262144, "ts": 1763677025123}
ans = {"v": 1, "ok": True, "type": "file", "name": "a.jpg", "size": 1048576, "mtime": 1763670000,
       "chunk_size": 262144, "offset": 0, "first_index": 0, "frames": True}
ref = {"v": 1, "ok": False, "error": "not_found", "message": "no such file in this share"}
lst = {"v": 1, "entries": [{"name": "a.jpg", "type": "file", "size": 1048576, "mtime": 1763670000},
                           {"name": "2026", "type": "dir", "size": 0, "mtime": 1763600000}]}
write("fuzz_payloads", [
    b"\x00" + json.dumps(req).encode(),
    b"\x00" + json.dumps(dict(req, op="list", path="/", ts=1, offset=None)).encode(),
    b"\x00" + json.dumps(dict(req, v=2)).encode(),
    b"\x00" + json.dumps(dict(req, ts=18446744073709551615)).encode(),
    b"\x01" + json.dumps(ans).encode(),
    b"\x01" + json.dumps(ref).encode(),
    b"\x01" + json.dumps(dict(ans, name="r\u00e9sum\u00e9 \ud83d\ude00.txt", mtime=-5)).encode(),
    b"\x02" + json.dumps(lst).encode(),
    b"\x02" + json.dumps({"v": 1, "entries": [{"name": "..", "type": "dir", "size": 0, "mtime": 0}]}).encode(),
    b"\x02" + b'{"v":1,"entries":[' + b"[" * 200 + b"]" * 200 + b"]}",
    # Padded (docs/protocol.md §4.4): spaces to the bucket, and bad padding.
    b"\x00" + json.dumps(req, separators=(",", ":")).encode().ljust(256, b" "),
    b"\x01" + json.dumps(ref, separators=(",", ":")).encode().ljust(256, b" "),
    b"\x00" + json.dumps(req, separators=(",", ":")).encode() + b"\0" * 8,
    b"\x01" + json.dumps(ans, separators=(",", ":")).encode() + b"  \n\t ",
])

write("fuzz_request_path", [
    "/", "/photos", "/photos/2026/a.jpg", "/photos/2026/", "/photos/../etc/passwd", "photos/a", "/a//b",
    "/.hidden/x", "/s/" + "n" * 255, "/photos/2026/a.jpg\n/photos\n/docs/x",
    "/photos/2026\n/photos/2026/sub", "/x\n/", "/photos/20\n/photos/2026",
])

write("fuzz_resolver", [b"\x00" + p.encode() for p in [
    "/", "/s", "/s/a.txt", "/s/dir/b.txt", "/s/in", "/s/out", "/s/abs/secret.txt", "/s/up/outside/secret.txt",
    "/s/dir/sub/back/o.txt", "/s/fifo", "/s/loop", "/s/proc/passwd", "/s/excluded/x.txt", "/s/id.key", "/s/dir",
    "/s/../outside/secret.txt", "/other/x", "/s/hard.txt",
]] + [b"\x01/s/open/o.txt", b"\x01/s/dir/sub/back/o.txt", b"\x01/s", b"\x01/s/a.txt"])

key = b64(bytes(range(32)))
key2 = b64(bytes(range(1, 33)))
write("fuzz_authorized", [
    "# trusted requesters\n%s alice laptop\n%s paths=/photos,/docs/2026 bob\n" % (key, key2),
    "%s\r\n\r\n   # comment\r\n" % key,
    "%s comment paths=/x\n" % key,
    "%s paths=\n" % key,
    "%s a\n%s b\n" % (key, key),
    "not-a-key x\n",
])
print("seeds written to", os.path.join(here, "corpus"))


# fuzz_tree_stream: setup byte (bit0: without contents, bit1: max 4 entries,
# bit2: resume at "a/b", bits4-7: number of piece sizes), piece sizes - 1,
# then the folder stream (docs/protocol.md §4.5).
def rec(t, body):
    return struct.pack(">BI", t, len(body)) + body


def tdir(p):
    return rec(1, struct.pack(">qI", 100, 0o755) + p.encode())


def tfile(p, content, offset=0):
    out = rec(2, struct.pack(">QqIQ", offset + len(content), 100, 0o644, offset) + p.encode())
    if content:
        out += rec(3, content)
    return out + rec(4, b"\x00" + b"\x00" * 32)


def tend(files, dirs, nbytes, skipped=0):
    return rec(6, struct.pack(">QQQQ", files, dirs, nbytes, skipped))


honest_tree = tdir("a") + tfile("a/x y", b"hello") + tdir("a/\u00fc".encode().decode()) + tfile("a!", b"") + \
    rec(5, b"\x01" + "b".encode()) + tend(2, 2, 5, 1)
write("fuzz_tree_stream", [
    b"\x00" + honest_tree,
    b"\x30\x00\x06\x40" + honest_tree,
    b"\x01" + rec(2, struct.pack(">QqIQ", 7, 0, 0o600, 0) + b"f") + tend(1, 0, 7),
    b"\x04" + tfile("a/b", b"tail", 3) + tfile("a/c", b"") + tend(2, 0, 7),
    b"\x00" + tdir("a") + tfile("a/..", b""),
    b"\x02" + tfile("a", b"") + tfile("b", b"") + tfile("c", b"") + tfile("d", b"") + tfile("e", b""),
])
