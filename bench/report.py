#!/usr/bin/env python3
"""Summarise bench/run.sh measurements: medians per tool and step.

    report.py RESULTS.tsv [--work DIR] [--title T] [--moves M] [--command C] [--versions V] [--md FILE]

Prints a table to stdout, and a second one of the bytes sent each way
(from the counting pass, so the same in every run); with --md, appends the same table as markdown
(with date, machine, command and versions) to FILE.  With --work, the
per-command breakdown of the counting pass (cmds-TOOL-STEP-1.json) is added to the
markdown.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import statistics

STEPS = {
    "a": "(a) first sync, empty Maildir",
    "b": "(b) no-change sync",
    "c": "(c) after server changes",
    "d": "(d) after local changes",
    "e": "(e) after local moves",
    "f": "(f) after server moves",
}
TOOLS = ("imapdir", "mbsync")


def load(path):
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    med = {}
    for tool in TOOLS:
        for step in STEPS:
            rs = [r for r in rows if r["tool"] == tool and r["step"] == step]
            if not rs:
                continue
            med[tool, step] = {
                "wall": statistics.median(float(r["wall"]) for r in rs),
                "cpu": statistics.median(float(r["user"]) + float(r["sys"]) for r in rs),
                "rss": statistics.median(int(r["rss_kb"]) for r in rs) / 1024,
                "cmds": statistics.median(int(r["cmds"]) for r in rs),
                "sessions": statistics.median(int(r["sessions"]) for r in rs),
                "up": statistics.median(int(r["bytes_up"]) for r in rs) / 1024,
                "down": statistics.median(int(r["bytes_down"]) for r in rs) / 1024,
                "runs": len(rs),
                "waits": waits_median(rs, "waits"),
                "span": waits_median(rs, "span_rtts"),
                "check": "ok" if all(r["check"] == "ok" for r in rs) else "FLAGS DIFFER",
            }
    return med


def waits_median(rows, key):
    """Median of a proxy column; None without the proxy (no --rtt)."""
    values = [float(r[key]) for r in rows if r.get(key) not in (None, "", "-")]
    return statistics.median(values) if values else None


def stream_line(path, med):
    """imapdir's first sync against stream_client.py's, when measured."""
    rows = [r for r in csv.DictReader(open(path), delimiter="\t")
            if r["tool"] == "stream" and r["step"] == "a"]
    if not rows or ("imapdir", "a") not in med:
        return None
    wall = statistics.median(float(r["wall"]) for r in rows)
    mine = med["imapdir", "a"]["wall"]
    return (f"(a) against the plain streaming client (stream_client.py, {rows[0]['sessions']}"
            f" connections, {len(rows)} run(s)): imapdir {mine:.2f} s, client {wall:.2f} s,"
            f" ratio {ratio(mine, wall)}")


def local_line(path, messages):
    """Sync state on disk per message, and `imapdir status --offline`."""
    if not path or not os.path.exists(path):
        return None
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    parts = []
    for tool in TOOLS:
        rs = [r for r in rows if r["tool"] == tool]
        if rs:
            b = statistics.median(int(r["state_bytes"]) for r in rs)
            parts.append(f"{tool} {b / 1e6:.1f} MB ({b / max(messages, 1):.0f} B/message)")
    line = "sync state on disk after (b): " + ", ".join(parts)
    st = [r for r in rows if r["tool"] == "imapdir" and r["status_wall"] != "-"]
    if st:
        wall = statistics.median(float(r["status_wall"]) for r in st)
        rss = statistics.median(int(r["status_rss_kb"]) for r in st) / 1024
        line += f"; imapdir status --offline {wall:.2f} s, {rss:.1f} MB RSS"
    return line


def ratio(a, b):
    if b == 0:
        return "-" if a == 0 else "inf"
    return f"{a / b:.2f}"


def fmt_num(v, kind):
    if v is None:
        return "-"
    if kind == "span":
        return f"{v:.1f}"
    if kind in ("wall", "cpu"):
        return f"{v:.2f}"
    if kind == "rss":
        return f"{v:.1f}"
    if kind in ("up", "down"):
        return f"{v:.1f}" if v < 100 else f"{v:.0f}"
    return f"{v:g}"


COLUMNS = [("wall", "wall s"), ("cpu", "CPU s"), ("rss", "RSS MB"), ("cmds", "IMAP cmds")]
BYTE_COLUMNS = [("up", "KB up"), ("down", "KB down")]
WAIT_COLUMNS = [("sessions", "connections"), ("waits", "waits"), ("span", "span RTT")]


def table(med, columns=COLUMNS):
    header = ["step"]
    for _, label in columns:
        header += [f"{label} imapdir", "mbsync", "ratio"]
    rows = []
    for step, title in STEPS.items():
        if ("imapdir", step) not in med or ("mbsync", step) not in med:
            continue
        i, m = med["imapdir", step], med["mbsync", step]
        row = [title]
        for key, _ in columns:
            if i[key] is None or m[key] is None:
                row += [fmt_num(i[key], key), fmt_num(m[key], key), "-"]
            else:
                row += [fmt_num(i[key], key), fmt_num(m[key], key), ratio(i[key], m[key])]
        rows.append(row)
    return header, rows


def text_table(header, rows):
    widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                               for k, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "-" * len(line(header))] + [line(r) for r in rows])


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def breakdown(work):
    lines = []
    for step, title in STEPS.items():
        parts = []
        for tool in TOOLS:
            p = os.path.join(work, f"cmds-{tool}-{step}-1.json")
            if not os.path.exists(p):
                continue
            d = json.load(open(p))
            cmds = ", ".join(f"{k} {v}" for k, v in d["per_command"].items())
            n = d["sessions"]
            parts.append(f"{tool}: {n} session{'' if n == 1 else 's'}; {cmds}")
        if parts:
            lines.append(f"- {title} — " + " | ".join(parts))
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ""
    try:
        load = ", load average " + " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}{load}"


WAITS_NOTE = ("Through the delay proxy: waits = times a client waited for the server,"
              " summed over its connections (a TCP connect not included); span RTT ="
              " first connection to end of the last, in round trips.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--work")
    ap.add_argument("--title", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--moves", default="", help="what (e) and (f) moved")
    ap.add_argument("--md")
    ap.add_argument("--local", help="local.tsv: state sizes and status --offline")
    ap.add_argument("--messages", type=int, default=0)
    a = ap.parse_args()
    med = load(a.results)
    header, rows = table(med)
    checks = [f"{t} {s}" for (t, s), v in med.items() if v["check"] != "ok"]
    print()
    print(a.title)
    print(text_table(header, rows))
    print("medians; ratio = imapdir / mbsync (below 1: imapdir is faster/smaller);"
          " IMAP cmds = commands after login, all connections")
    bheader, brows = table(med, BYTE_COLUMNS)
    print()
    print(text_table(bheader, brows))
    print("IMAP bytes after login (inside TLS), counting pass; up = client to server,"
          " KB = 1024 bytes")
    with_proxy = any(v["waits"] is not None for v in med.values())
    if with_proxy:
        wheader, wrows = table(med, WAIT_COLUMNS)
        print()
        print(text_table(wheader, wrows))
        print(WAITS_NOTE)
    streamed = stream_line(a.results, med)
    if streamed:
        print(streamed)
    local = local_line(a.local, a.messages)
    if local:
        print(local)
    if a.moves:
        print("moves: " + a.moves)
    if checks:
        print("WARNING: local and server flags differ after: " + ", ".join(checks))
    if a.md:
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        with open(a.md, "a") as f:
            f.write(f"\n### {a.title}\n\n")
            f.write(f"`{a.command}` — {now}, {machine()}  \n{a.versions}\n\n")
            f.write(md_table(header, rows) + "\n\n")
            f.write("Medians; ratio = imapdir / mbsync (below 1: imapdir is faster/smaller); "
                    "IMAP cmds = commands sent after login, over all connections.\n")
            f.write("\n" + md_table(bheader, brows) + "\n\n")
            f.write("IMAP bytes after login (inside TLS), from the counting pass; "
                    "up = client to server; KB = 1024 bytes.\n")
            if with_proxy:
                f.write("\n" + md_table(wheader, wrows) + "\n\n" + WAITS_NOTE + "\n")
            if streamed:
                f.write("\n" + streamed + ".\n")
            if local:
                f.write("\n" + local[0].upper() + local[1:] + ".\n")
            if a.moves:
                f.write("\nMoves: " + a.moves + ".\n")
            if checks:
                f.write("\n**Warning:** local and server flags differed after: "
                        + ", ".join(checks) + "\n")
            if a.work:
                f.write("\nCommands sent (counting pass):\n\n" + breakdown(a.work) + "\n")


if __name__ == "__main__":
    main()
