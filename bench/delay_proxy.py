#!/usr/bin/env python3
"""TCP proxy that adds a fixed latency in both directions.

    delay_proxy.py --listen-port 0 --target-port 993 --rtt 50 [--port-file F]

Listens on 127.0.0.1 and forwards every connection to TARGET_HOST:TARGET_PORT.
Each chunk read from one side is written to the other side RTT/2 ms after it
was read, so a request/response round trip costs RTT ms more than without
the proxy.  Chunks are queued per direction and forwarded in order; the delay
does not limit throughput (reading continues while earlier chunks wait), so
only the latency changes, like a long but fat link.  TLS passes through
untouched: it is a plain TCP relay.

With --listen-port 0 the kernel picks a free port; it is printed on stdout
("listening on 127.0.0.1:PORT") and written to --port-file if given.

With --stats FILE, each connection appends one line to FILE when it ends:
"start end waits", its first and last moments (loop time, seconds) and the
times the client waited for the server: sent something (or closed) after
bytes from the server reached it that it had not seen when it last sent.
The TLS handshake counts one wait, the greeting one, each exchange one;
commands written together count once.  With the RTT the proxy adds,
commands written without waiting cannot pass for waits.
Stdlib only (asyncio).  Stop it with SIGTERM or SIGINT.
"""

import argparse
import asyncio
import signal
import sys


class Conn:
    """One connection's wait count (see the module's doc)."""

    def __init__(self, loop):
        self.received = False
        self.waits = 0
        self.start = loop.time()

    def client_spoke(self):
        if self.received:
            self.received = False
            self.waits += 1


async def relay(reader, writer, delay, conn, from_client):
    """Copy reader -> writer, delaying each chunk by `delay` seconds, in order."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:                      # EOF from the source side
                try:
                    if writer.can_write_eof():
                        writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            if not from_client:
                conn.received = True
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(sender())
    try:
        while True:
            try:
                data = await reader.read(256 * 1024)
            except (ConnectionError, OSError):
                data = b""
            if from_client:
                conn.client_spoke()
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await task
    except (ConnectionError, OSError):
        task.cancel()


async def handle(client_r, client_w, args):
    try:
        server_r, server_w = await asyncio.open_connection(args.target_host, args.target_port)
    except OSError as e:
        print(f"delay_proxy: cannot connect to target: {e}", file=sys.stderr)
        client_w.close()
        return
    delay = args.rtt / 2000.0
    loop = asyncio.get_running_loop()
    conn = Conn(loop)
    try:
        await asyncio.gather(relay(client_r, server_w, delay, conn, True),
                             relay(server_r, client_w, delay, conn, False))
    finally:
        if args.stats:
            with open(args.stats, "a") as f:
                f.write(f"{conn.start:.4f} {loop.time():.4f} {conn.waits}\n")
        for w in (client_w, server_w):
            try:
                w.close()
            except OSError:
                pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--target-host", default="127.0.0.1")
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--rtt", type=float, required=True, help="added round-trip time, ms")
    ap.add_argument("--port-file", help="write the listening port here")
    ap.add_argument("--stats", help="append each connection's waits here")
    args = ap.parse_args()

    server = await asyncio.start_server(lambda r, w: handle(r, w, args),
                                        "127.0.0.1", args.listen_port)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(f"{port}\n")
    print(f"listening on 127.0.0.1:{port}, +{args.rtt:g} ms RTT to "
          f"{args.target_host}:{args.target_port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
