#!/usr/bin/env python3
"""Deterministic mail corpus generator for the imapdir benchmarks.

Writes messages straight into a Dovecot Maildir tree laid out with
LAYOUT=fs (the same layout bench/dovecot.sh configures):

    ROOT/{cur,new,tmp}                  INBOX
    ROOT/Archive/2023/{cur,new,tmp}     folder "Archive/2023"
    ROOT/&AMk-t&AOk-/{cur,new,tmp}      folder "Été" (modified UTF-7 on disk)

Writing files is far faster than APPENDing over IMAP; Dovecot builds its
index and assigns UIDs on first access.

    gen_corpus.py PRESET ROOT [--seed N] [--manifest FILE]

PRESET is small (2,000 messages, 5 folders), medium (20,000, 20 folders),
large (100,000, 50 folders, about 1.6 GB) or huge (1,000,000 in 200
folders, small bodies without attachments: about 1 GB, 4 GB on disk).  The same preset and seed
always produce byte-identical files with identical names.  Stdlib only.
"""

import argparse
import base64
import email.header
import email.utils
import json
import math
import os
import random
import sys

PRESETS = {
    "small": (2_000, 5),
    "medium": (20_000, 20),
    "large": (100_000, 50),
    "huge": (1_000_000, 200),
}

# Presets whose bodies are short and plain: the count is what they measure,
# and the server's copy stays within a few GB.
SMALL_BODIES = {"huge"}

# Share of messages with a multi-megabyte base64 attachment.
BIG_SHARE = 0.005
BIG_MIN, BIG_MAX = 1_000_000, 2_500_000

NON_ASCII_FOLDER = "Été"

WORDS = (
    "the of and to in is that for it as with was on be by at this from are or "
    "an have not but which they all were we when your can said there use each "
    "she do how their if will up other about out many then them these so some "
    "her would make like him into time has look two more write go see number no "
    "way could people my than first water been call who oil its now find long "
    "down day did get come made may part sync mailbox server folder message "
    "release build patch review merge branch deploy invoice meeting schedule "
    "budget report quarter draft agenda minutes ticket issue kernel backup "
    "network latency throughput benchmark storage index cache protocol"
).split()

NAMES = (
    "Alice Martin", "Bob Dupont", "Carol Nguyen", "Dave Schmidt", "Eve Rossi",
    "Frank Olsen", "Grace Kim", "Heidi Novak", "Ivan Petrov", "Judy Silva",
    "Mallory Brown", "Niaj Haddad", "Olivia Chen", "Peggy Walsh", "Rupert Lee",
    "Sybil Costa", "Trent Ward", "Victor Ionescu", "Walter Berg", "Zoé Lefèvre",
)


def mutf7_encode(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3) for one folder name."""
    out, buf = [], []

    def flush():
        if buf:
            raw = "".join(buf).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + b64 + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def folder_list(n):
    """n folder names: INBOX first, nested folders, one non-ASCII name."""
    base = ["INBOX", "Sent", "Archive/2023", "Archive/2024", NON_ASCII_FOLDER]
    extra = [
        "Drafts", "Trash", "Lists/rust-users", "Lists/debian-devel",
        "Lists/dovecot", "Projects/imapdir", "Projects/imapdir/ci",
        "Work/Invoices", "Work/Meetings", "Archive/2019", "Archive/2020",
        "Archive/2021", "Archive/2022", "Family", "Travel",
    ]
    names = (base + extra)[:n]
    year, month = 2018, 1
    while len(names) < n:
        names.append(f"Archive/{year}/{month:02d}")
        month += 1
        if month > 12:
            year, month = year - 1, 1
    return names


def folder_weights(names):
    """Zipf-like shares: INBOX and a few folders hold most of the mail."""
    w = [1.0 / (i + 1) ** 0.8 for i in range(len(names))]
    w[0] *= 2.0  # INBOX
    return w


class TextSource:
    """A large block of pseudo-English CRLF text to slice bodies from."""

    def __init__(self, rng, size=4 << 20):
        lines, total = [], 0
        while total < size:
            n = rng.randint(6, 14)
            line = " ".join(rng.choice(WORDS) for _ in range(n))
            line = line[:1].upper() + line[1:] + "."
            lines.append(line)
            total += len(line) + 2
            if rng.random() < 0.12:
                lines.append("")
                total += 2
        self.blob = ("\r\n".join(lines) + "\r\n").encode("ascii")

    def take(self, rng, size):
        """About `size` bytes of whole lines, ending in CRLF."""
        size = max(64, min(size, len(self.blob) // 2))
        start = self.blob.find(b"\r\n", rng.randrange(len(self.blob) - size - 2)) + 2
        end = self.blob.find(b"\r\n", start + size)
        if end < 0:
            end = len(self.blob) - 2
        return self.blob[start:end + 2]


def pick_size(rng, small=False):
    """Body size: log-normal, median ~5 KB, mostly 2-50 KB; some multi-MB.
    With `small`: median ~400 bytes, never an attachment."""
    if small:
        s = int(math.exp(rng.gauss(math.log(400), 0.5)))
        return "text", max(64, min(s, 4_000))
    if rng.random() < BIG_SHARE:
        return "big", rng.randint(BIG_MIN, BIG_MAX)
    s = int(math.exp(rng.gauss(math.log(5000), 0.8)))
    return "text", max(1500, min(s, 120_000))


def pick_flags(rng):
    """Maildir flag letters (sorted) and whether the file goes to new/."""
    r = rng.random()
    if r < 0.04:
        return "", True            # unseen, recent: new/
    if r < 0.09:
        return "", False           # unseen, in cur/
    flags = "S"
    if rng.random() < 0.12:
        flags += "R"
    if rng.random() < 0.05:
        flags += "F"
    return "".join(sorted(flags)), False


def make_message(rng, text, n, seed, when, folder, small=False):
    kind, size = pick_size(rng, small)
    sender = rng.choice(NAMES)
    rcpt = rng.choice(NAMES)
    subj_words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
    local = lambda nm: nm.split()[0].lower().replace("é", "e")
    disp = lambda nm: nm if nm.isascii() else email.header.Header(nm, "utf-8").encode()
    hdr = [
        f"Return-Path: <{local(sender)}@example.org>",
        f"Received: from mx{n % 7}.example.org (mx{n % 7}.example.org [192.0.2.{n % 250 + 1}])"
        f"\r\n\tby imap.example.net with ESMTPS id {n:08x}; {email.utils.formatdate(when)}",
        f"From: {disp(sender)} <{local(sender)}@example.org>",
        f"To: {disp(rcpt)} <{local(rcpt)}@example.net>",
        f"Subject: {subj_words[:1].upper() + subj_words[1:]} #{n}",
        f"Date: {email.utils.formatdate(when)}",
        f"Message-ID: <{n}.{seed}.bench@example.org>",
        "MIME-Version: 1.0",
    ]
    if folder.startswith("Lists/"):
        hdr.append(f"List-Id: <{folder[6:]}.lists.example.org>")
    if kind == "text":
        hdr.append("Content-Type: text/plain; charset=us-ascii")
        hdr.append("Content-Transfer-Encoding: 7bit")
        body = text.take(rng, size)
        return ("\r\n".join(hdr) + "\r\n\r\n").encode("ascii") + body
    boundary = f"=_bench_{n:08d}"
    hdr.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    attach = rng.randbytes(size * 3 // 4)
    b64 = base64.encodebytes(attach).replace(b"\n", b"\r\n")
    parts = [
        ("\r\n".join(hdr) + "\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n").encode(),
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".encode(),
        text.take(rng, 1500),
        f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="data-{n}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode(),
        b64,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts)


def generate(preset, root, seed, manifest=None):
    total, nfolders = PRESETS[preset]
    rng = random.Random(f"imapdir-bench-{preset}-{seed}")
    text = TextSource(random.Random(seed))
    names = folder_list(nfolders)
    weights = folder_weights(names)
    # deterministic per-folder counts that add up to `total`
    wsum = sum(weights)
    counts = [int(total * w / wsum) for w in weights]
    counts[0] += total - sum(counts)

    dirs = {}
    for name in names:
        d = root if name == "INBOX" else os.path.join(
            root, *[mutf7_encode(p) for p in name.split("/")])
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        dirs[name] = d

    # Dates: spread over ~6 years back from a fixed instant, oldest first.
    t_end = 1_700_000_000
    span = 6 * 365 * 86400
    n = 0
    bytes_total = 0
    info = {}
    for name, count in zip(names, counts):
        d = dirs[name]
        stats = {"messages": count, "bytes": 0, "unseen": 0, "flagged": 0, "big": 0}
        for i in range(count):
            n += 1
            when = t_end - span + int(span * (i + rng.random()) / count)
            data = make_message(rng, text, n, seed, when, name, preset in SMALL_BODIES)
            flags, in_new = pick_flags(rng)
            size = len(data)
            base = f"{when}.M{n}P1.bench,S={size},W={size}"
            path = os.path.join(d, "new", base) if in_new else \
                os.path.join(d, "cur", f"{base}:2,{flags}")
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (when, when))
            stats["bytes"] += size
            stats["unseen"] += "S" not in flags
            stats["flagged"] += "F" in flags
            stats["big"] += size > 500_000
        bytes_total += stats["bytes"]
        info[name] = stats

    summary = {"preset": preset, "seed": seed, "messages": n,
               "folders": len(names), "bytes": bytes_total, "per_folder": info}
    if manifest:
        with open(manifest, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("root", help="Maildir root of the user (INBOX), e.g. DIR/mail/bench")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--manifest", help="write a JSON summary here")
    a = ap.parse_args()
    s = generate(a.preset, a.root, a.seed, a.manifest)
    big = sum(v["big"] for v in s["per_folder"].values())
    print(f"{s['preset']}: {s['messages']} messages in {s['folders']} folders, "
          f"{s['bytes'] / 1e6:.1f} MB ({big} with a multi-MB attachment)", file=sys.stderr)


if __name__ == "__main__":
    main()
