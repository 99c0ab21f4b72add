#!/usr/bin/env python3
"""Make the changes between benchmark syncs, deterministically.

    mutate.py server --port P [--seed S] [--new 10 --flags 50 --delete 20]
        Over IMAP (plain, imaplib): APPEND new messages, change flags on
        existing ones (STORE), delete some (STORE \\Deleted + UID EXPUNGE).
    mutate.py local MAILDIR [--seed S] [--flags 50 --delete 20]
        In a client's Maildir: change flags by renaming files (the ":2,"
        suffix) and delete files (unlink), as a mail reader would.
    mutate.py local-move MAILDIR --from A --to B [--seed S] [--max 1000] [--strip-uid]
        Move min(max, half of A) message files from folder A to folder B
        of a client's Maildir (rename, keeping the file name and cur/ or
        new/, as aerc, notmuch's MailMover or mv do).  --strip-uid drops
        the ",U=n" part of the name, as mbsync requires of a mail reader
        (mutt, mu4e with mu4e-change-filenames-when-moving).
    mutate.py server-move --port P --from A --to B [--seed S] [--max 1000]
        The same on the server, over IMAP: UID MOVE from A to B.
    mutate.py count MAILDIR
        Print "messages flagged seen" of a Maildir tree.
    mutate.py server-count --port P
        Print "messages flagged seen" of the whole account over IMAP.
    mutate.py count-folders MAILDIR FOLDER...
    mutate.py server-count-folders --port P FOLDER...
        Print "FOLDER=messages ..." for the folders named.

local-move and server-move print the counts of both folders expected
after the move ("A=n B=m", as count-folders prints them) and the number
moved on stderr.

The messages chosen depend only on the seed and on (folder, UID) (for
moves: on the Message-IDs in the source folder), so every tool sees
exactly the same changes when the server starts from the same pristine
state.  Stdlib only.
"""

import argparse
import email.utils
import imaplib
import os
import random
import re
import sys

# A SEARCH ALL of a folder with 100,000s of messages is a line of megabytes.
imaplib._MAXLINE = 1 << 30

UID_RE = re.compile(r",U=(\d+)")


def imap_login(port, user, password):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(user, password)
    return m


def list_folders(m):
    typ, data = m.list('""', "*")
    out = []
    for line in data:
        line = line.decode() if isinstance(line, bytes) else line
        flags, _, rest = line.partition(") ")
        if "\\Noselect" in flags or "\\NonExistent" in flags:
            continue
        # rest = '"/" "name"' or '"/" name'
        name = rest.split(" ", 1)[1]
        out.append(name)
    return sorted(out)


def quote(name):
    return name if name.startswith('"') else '"' + name + '"'


def folder_uids(m, folder):
    m.select(quote(folder))
    typ, data = m.uid("SEARCH", None, "ALL")
    return [int(x) for x in data[0].split()]


def new_message(rng, i, seed):
    when = 1_700_000_000 + 3600 * i
    body = "\r\n".join(
        " ".join(rng.choice(["new", "mail", "arrived", "sync", "check", "please",
                             "review", "today", "report", "bench"]) for _ in range(10))
        for _ in range(rng.randint(20, 120)))
    return (f"From: Sender {i} <sender{i}@example.org>\r\n"
            f"To: bench@example.net\r\n"
            f"Subject: New message {i} of run {seed}\r\n"
            f"Date: {email.utils.formatdate(when)}\r\n"
            f"Message-ID: <new.{seed}.{i}.bench@example.org>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            f"\r\n{body}\r\n").encode()


def server_changes(a):
    rng = random.Random(f"server-{a.seed}")
    m = imap_login(a.port, a.user, a.password)
    folders = list_folders(m)
    # every (folder, uid) on the server, in a stable order
    all_msgs = [(f, u) for f in folders for u in folder_uids(m, f)]
    picked = rng.sample(all_msgs, a.flags + a.delete)
    flag_set, del_set = picked[:a.flags], picked[a.flags:]
    by_folder = {}
    for i, (f, u) in enumerate(flag_set):
        by_folder.setdefault(f, []).append(("flag", u, i))
    for f, u in del_set:
        by_folder.setdefault(f, []).append(("del", u, 0))
    for f in sorted(by_folder):
        m.select(quote(f))
        dels = []
        for kind, u, i in by_folder[f]:
            if kind == "flag":
                # toggle \Flagged, \Answered or \Seen: always a real change
                flag = (r"\Flagged", r"\Answered", r"\Seen")[i % 3]
                typ, data = m.uid("FETCH", str(u), "(FLAGS)")
                has = flag.encode() in b" ".join(x if isinstance(x, bytes) else x[0] for x in data if x)
                m.uid("STORE", str(u), "-FLAGS" if has else "+FLAGS", f"({flag})")
            else:
                m.uid("STORE", str(u), "+FLAGS", r"(\Deleted)")
                dels.append(str(u))
        if dels:
            m.uid("EXPUNGE", ",".join(dels))
    targets = ["INBOX"] + [f for f in folders if f != "INBOX"][:2]
    for i in range(a.new):
        m.append(quote(targets[i % len(targets)] if i % 2 else "INBOX"), "(\\Seen)" if i % 3 == 0 else "",
                 None, new_message(rng, i, a.seed))
    m.logout()
    print(f"server: {a.new} appended, {len(flag_set)} flag changes, {len(del_set)} deleted")


def local_files(root):
    """[(folder_rel, uid, path)] of message files of every Maildir under root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = os.path.basename(dirpath)
        if base not in ("cur", "new"):
            continue
        folder = os.path.relpath(os.path.dirname(dirpath), root)
        for fn in filenames:
            m = UID_RE.search(fn)
            if m:
                out.append((folder, int(m.group(1)), os.path.join(dirpath, fn)))
    out.sort()
    return out


def split_flags(path):
    d, fn = os.path.split(path)
    if ":2," in fn:
        base, flags = fn.rsplit(":2,", 1)
    else:
        base, flags = fn, ""
    return d, base, flags


def local_changes(a):
    rng = random.Random(f"local-{a.seed}")
    files = local_files(a.maildir)
    # flag changes only on files already in cur/ (they carry a ":2," suffix)
    in_cur = [x for x in files if os.path.basename(os.path.dirname(x[2])) == "cur"]
    flag_set = rng.sample(in_cur, a.flags)
    chosen = {x[2] for x in flag_set}
    del_set = rng.sample([x for x in files if x[2] not in chosen], a.delete)
    for i, (_, _, path) in enumerate(flag_set):
        d, base, flags = split_flags(path)
        fl = set(flags)
        letter = "FRS"[i % 3]
        fl ^= {letter}                        # toggle \Flagged / \Answered / \Seen
        os.rename(path, os.path.join(d, f"{base}:2,{''.join(sorted(fl))}"))
    for _, _, path in del_set:
        os.unlink(path)
    print(f"local: {len(flag_set)} flag changes, {len(del_set)} deleted")


MSGID_RE = re.compile(rb"^message-id:[ \t]*(\S.*?)[ \t]*\r?$", re.I | re.M)


def message_id(head):
    """The Message-ID in a message's header block (bytes), or b""."""
    hdr = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    m = MSGID_RE.search(hdr)
    return m.group(1) if m else b""


def pick_moves(rng, msgids, most):
    """Sample min(most, half) of the (message_id, ...) tuples, in a stable order."""
    pool = sorted(msgids)
    return rng.sample(pool, min(most, len(pool) // 2))


def folder_files(root, folder):
    """[(subdir, filename)] of the messages of one folder of a Maildir tree."""
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(root, folder, sub)
        if os.path.isdir(d):
            out += [(sub, fn) for fn in os.listdir(d) if not fn.startswith(".")]
    return out


def local_move(a):
    rng = random.Random(f"local-move-{a.seed}")
    src, dst = os.path.join(a.maildir, a.src), os.path.join(a.maildir, a.dst)
    msgs = []
    for sub, fn in folder_files(a.maildir, a.src):
        with open(os.path.join(src, sub, fn), "rb") as f:
            msgs.append((message_id(f.read(16384)), sub, fn))
    ndst = len(folder_files(a.maildir, a.dst))
    picked = pick_moves(rng, msgs, a.max)
    for _, sub, fn in picked:
        target = os.path.join(dst, sub, UID_RE.sub("", fn) if a.strip_uid else fn)
        if os.path.exists(target):
            sys.exit(f"local-move: {target} exists")
        os.rename(os.path.join(src, sub, fn), target)
    print(f"local: {len(picked)} moved from {a.src} to {a.dst}", file=sys.stderr)
    print(f"{a.src}={len(msgs) - len(picked)} {a.dst}={ndst + len(picked)}")


def status_messages(m, folder):
    typ, data = m.status(quote(folder), "(MESSAGES)")
    line = data[0].decode() if isinstance(data[0], bytes) else data[0]
    return int(re.search(r"MESSAGES (\d+)", line).group(1))


def server_move(a):
    rng = random.Random(f"server-move-{a.seed}")
    m = imap_login(a.port, a.user, a.password)
    ndst = status_messages(m, a.dst)
    m.select(quote(a.src))
    msgs = []
    typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            msgs.append((message_id(item[1]), uid))
    picked = pick_moves(rng, msgs, a.max)
    uids = sorted(u for _, u in picked)
    for i in range(0, len(uids), 500):
        typ, data = m.uid("MOVE", ",".join(map(str, uids[i:i + 500])), quote(a.dst))
        if typ != "OK":
            sys.exit(f"server-move: UID MOVE failed: {typ} {data}")
    nsrc = len(msgs) - len(picked)
    m.close()
    got = (status_messages(m, a.src), status_messages(m, a.dst))
    m.logout()
    if got != (nsrc, ndst + len(picked)):
        sys.exit(f"server-move: after the move {a.src}, {a.dst} hold {got}")
    print(f"server: {len(picked)} moved from {a.src} to {a.dst}", file=sys.stderr)
    print(f"{a.src}={nsrc} {a.dst}={ndst + len(picked)}")


def count_folders(a):
    print(" ".join(f"{f}={len(folder_files(a.maildir, f))}" for f in a.folders))


def server_count_folders(a):
    m = imap_login(a.port, a.user, a.password)
    print(" ".join(f"{f}={status_messages(m, f)}" for f in a.folders))
    m.logout()


def local_count(a):
    n = fl = seen = 0
    for dirpath, _, filenames in os.walk(a.maildir):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        for fn in filenames:
            n += 1
            flags = fn.rsplit(":2,", 1)[1] if ":2," in fn else ""
            fl += "F" in flags
            seen += "S" in flags
    print(n, fl, seen)


def server_count(a):
    m = imap_login(a.port, a.user, a.password)
    n = fl = seen = 0
    for f in list_folders(m):
        typ, data = m.select(quote(f), readonly=True)
        n += int(data[0])
        if int(data[0]):
            fl += len(m.search(None, "FLAGGED")[1][0].split())
            seen += len(m.search(None, "SEEN")[1][0].split())
    m.logout()
    print(n, fl, seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--new", type=int, default=10)
    s.add_argument("--flags", type=int, default=50)
    s.add_argument("--delete", type=int, default=20)
    l = sub.add_parser("local")
    l.add_argument("maildir")
    l.add_argument("--flags", type=int, default=50)
    l.add_argument("--delete", type=int, default=20)
    c = sub.add_parser("count")
    c.add_argument("maildir")
    sc = sub.add_parser("server-count")
    sc.add_argument("--port", type=int, required=True)
    lm = sub.add_parser("local-move")
    lm.add_argument("maildir")
    lm.add_argument("--strip-uid", action="store_true")
    sm = sub.add_parser("server-move")
    sm.add_argument("--port", type=int, required=True)
    for p in (lm, sm):
        p.add_argument("--from", dest="src", required=True)
        p.add_argument("--to", dest="dst", required=True)
        p.add_argument("--max", type=int, default=1000)
    cf = sub.add_parser("count-folders")
    cf.add_argument("maildir")
    scf = sub.add_parser("server-count-folders")
    scf.add_argument("--port", type=int, required=True)
    for p in (cf, scf):
        p.add_argument("folders", nargs="+")
    for p in (s, l, c, sc, lm, sm, cf, scf):
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--user", default="bench")
        p.add_argument("--password", default="bench")
    a = ap.parse_args()
    {"server": server_changes, "local": local_changes,
     "count": local_count, "server-count": server_count,
     "local-move": local_move, "server-move": server_move,
     "count-folders": count_folders, "server-count-folders": server_count_folders}[a.cmd](a)


if __name__ == "__main__":
    main()
