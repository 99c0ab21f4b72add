#!/usr/bin/env python3
"""Count the IMAP commands clients sent, from Dovecot rawlog files.

    imap_cmds.py RAWLOG_DIR [--json]

Reads every *.in file (client -> server stream of one session; Dovecot
starts logging after login, so LOGIN/AUTHENTICATE is not included) and
prints the total number of commands, the number of sessions and a
per-command breakdown, and the bytes each way over all sessions: the
sizes of the *.in (client -> server) and *.out (server -> client) files
without the timestamps Dovecot puts at the start of every line, that is
the IMAP stream inside TLS (after login).  Each line of a rawlog starts with a timestamp,
which is stripped; literals ({N} / {N+}) are skipped so APPEND data is not
mistaken for commands; IDLE's DONE is not a command.  Only meaningful when
the session was not compressed (COMPRESS=DEFLATE makes the log binary).
"""

import collections
import glob
import json
import os
import re
import sys

TS = re.compile(rb"^\d+\.\d+ ")
LITERAL = re.compile(rb"\{(\d+)\+?\}$")


def stream(path):
    """The session's raw client stream, timestamps removed."""
    with open(path, "rb") as f:
        return b"".join(TS.sub(b"", line, count=1) for line in f.read().splitlines(True))


def commands(data):
    """Yield the command name (e.g. 'UID FETCH') of every command in data."""
    pos, n = 0, len(data)
    while pos < n:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            eol = data.find(b"\n", pos)
            if eol < 0:
                eol = n
        line = data[pos:eol]
        pos = eol + 2 if data[eol:eol + 2] == b"\r\n" else eol + 1
        words = line.split(b" ", 3)
        # skip the bodies of literals; the rest of the command follows them
        while True:
            m = LITERAL.search(line)
            if not m:
                break
            pos += int(m.group(1))
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                eol = n
            line = data[pos:eol]
            pos = eol + 2
        if len(words) < 2 or words[0].upper() == b"DONE":
            continue
        name = words[1].upper()
        if name == b"UID" and len(words) > 2:
            name += b" " + words[2].upper()
        yield name.decode("ascii", "replace")


def stream_bytes(path):
    """Size of a rawlog file without its line timestamps."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            m = TS.match(line)
            n += len(line) - (m.end() if m else 0)
    return n


def count(rawlog_dir):
    per_cmd = collections.Counter()
    sessions = 0
    for path in sorted(glob.glob(os.path.join(rawlog_dir, "*.in"))):
        sessions += 1
        per_cmd.update(commands(stream(path)))
    up = sum(stream_bytes(p) for p in glob.glob(os.path.join(rawlog_dir, "*.in")))
    down = sum(stream_bytes(p) for p in glob.glob(os.path.join(rawlog_dir, "*.out")))
    return {"commands": sum(per_cmd.values()), "sessions": sessions,
            "bytes_up": up, "bytes_down": down,
            "per_command": dict(per_cmd.most_common())}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    r = count(sys.argv[1])
    if "--json" in sys.argv:
        print(json.dumps(r))
    else:
        print(f"{r['commands']} commands in {r['sessions']} sessions, "
              f"{r['bytes_up']} bytes up, {r['bytes_down']} bytes down")
        for k, v in r["per_command"].items():
            print(f"  {v:7d}  {k}")
