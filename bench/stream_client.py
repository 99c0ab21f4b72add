#!/usr/bin/env python3
"""The plainest first sync: a yardstick for imapdir's.

    stream_client.py --port P --ca CA --user U --password PW --out DIR [--connections 4]

Logs in over TLS on 127.0.0.1:P, lists the folders with their message
counts, shares them out over CONNECTIONS processes (the biggest first, each
to the least loaded), and in each one EXAMINEs every folder of its share and
streams `UID FETCH 1:* (BODY.PEEK[])` into one file per message under
DIR/FOLDER/cur/, then calls sync() once, as imapdir makes its files
durable. No state, no flags, no checks: what is left is reading the
literals off the sockets and writing them out, so this is about as fast as
a client can fetch a mailbox. Prints "MESSAGES BYTES SECONDS". Stdlib only.
"""

import argparse
import multiprocessing
import os
import re
import socket
import ssl
import sys
import time

LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
LIST_STATUS = re.compile(rb'^\* STATUS (.+) \(MESSAGES (\d+)\)\r\n$')


class Conn:
    def __init__(self, args):
        ctx = ssl.create_default_context(cafile=args.ca)
        raw = socket.create_connection(("127.0.0.1", args.port))
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.f = self.sock.makefile("rb", buffering=1 << 20)
        self.tag = 0
        self.f.readline()  # greeting
        self.command(f"LOGIN {quote(args.user)} {quote(args.password)}")

    def send(self, line):
        self.tag += 1
        tag = f"s{self.tag}".encode()
        self.sock.sendall(tag + b" " + line.encode() + b"\r\n")
        return tag

    def command(self, line, on_line=None, on_literal=None):
        """Sends a command; reads to its tagged answer, handing each
        untagged line (and literal) to the callbacks."""
        tag = self.send(line)
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("stream_client: connection closed")
            m = LITERAL.search(line)
            if m:
                size = int(m.group(1))
                if on_literal:
                    on_literal(line, self.f, size)
                else:
                    self.f.read(size)
                continue
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise SystemExit(f"stream_client: {line!r}")
                return
            if on_line:
                on_line(line)


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(raw):
    raw = raw.strip()
    if raw.startswith(b'"'):
        return raw[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\").decode()
    return raw.decode()


def folders(args):
    conn = Conn(args)
    found = []

    def on_line(line):
        m = LIST_STATUS.match(line)
        if m:
            found.append((unquote(m.group(1)), int(m.group(2))))

    conn.command('LIST "" "*" RETURN (STATUS (MESSAGES))', on_line)
    conn.command("LOGOUT")
    return found


def fetch_share(args, share, results):
    conn = Conn(args)
    messages = 0
    octets = 0
    uid = re.compile(rb"UID (\d+)")
    for name, count in share:
        if count == 0:
            continue
        cur = os.path.join(args.out, name, "cur")
        os.makedirs(cur, exist_ok=True)
        conn.command(f"EXAMINE {quote(name)}")

        def on_literal(line, f, size):
            nonlocal messages, octets
            m = uid.search(line)
            n = m.group(1).decode() if m else str(messages)
            left = size
            with open(os.path.join(cur, f"{n}:2,"), "wb") as out:
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    out.write(chunk)
                    left -= len(chunk)
            messages += 1
            octets += size

        conn.command("UID FETCH 1:* (UID BODY.PEEK[])", on_literal=on_literal)
    conn.command("LOGOUT")
    results.put((messages, octets))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()
    started = time.monotonic()
    shares = [[] for _ in range(args.connections)]
    loads = [0] * args.connections
    for name, count in sorted(folders(args), key=lambda f: -f[1]):
        i = loads.index(min(loads))
        shares[i].append((name, count))
        loads[i] += count
    results = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=fetch_share, args=(args, s, results))
             for s in shares if s]
    for p in procs:
        p.start()
    totals = [results.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"stream_client: a connection failed (exit {p.exitcode})")
    os.sync()
    elapsed = time.monotonic() - started
    print(sum(t[0] for t in totals), sum(t[1] for t in totals), f"{elapsed:.2f}")


if __name__ == "__main__":
    main()
