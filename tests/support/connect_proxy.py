#!/usr/bin/env python3
"""connect_proxy.py - an HTTP CONNECT proxy for tests, on loopback only.

Usage: connect_proxy.py LOG [--max-conns N] [--time-limit S]

Listens on 127.0.0.1 on a port the kernel picks and prints that port as the first line
of its standard output. It answers CONNECT only, and only to 127.0.0.1 or localhost
(always dialled as 127.0.0.1, never resolved), so no byte a test sends through it
leaves loopback; any other target gets 403, any other method 405. Each request is one
line appended to LOG (flushed before the reply is sent, so a client that got its
answer finds its line):

    open 127.0.0.1:6443        a tunnel was opened (200 sent)
    refused example.com:443 403
    failed 127.0.0.1:1 502     the target did not accept the connection

Bounds: at most --max-conns client connections at once (default 32; more get 503),
a request head of 8 KiB read within 10 s, and the whole process lives at most
--time-limit seconds (default 600). It also exits as soon as its standard input
reaches end of file, so a test that holds the write end of a pipe to it stops it by
closing that end, or by dying.
"""
import argparse
import os
import select
import socket
import sys
import threading

HEAD_MAX = 8192  # bytes of request line + headers
HEAD_TIMEOUT_S = 10  # to receive them
DIAL_TIMEOUT_S = 5  # connect() to the target
RELAY_CHUNK = 65536  # bytes per read while tunnelling
ALLOWED_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}

log_lock = threading.Lock()
slots = None  # threading.BoundedSemaphore(max_conns), set in main()


def log(path, line):
    with log_lock, open(path, "a", encoding="ascii") as f:
        f.write(line + "\n")
        f.flush()


def reply(conn, code, reason):
    body = f"{code} {reason}\n".encode()
    head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    try:
        conn.sendall(head.encode() + body)
    except OSError:
        pass


def read_head(conn):
    """The request head (bytes up to the blank line) and whatever followed it, or None."""
    conn.settimeout(HEAD_TIMEOUT_S)
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > HEAD_MAX:
            return None, b""
        try:
            chunk = conn.recv(4096)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def split_target(target):
    """("host", port) of "host:port" or "[v6]:port", or None."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]").lower(), int(port)


def relay(a, b):
    """Copies bytes both ways until either side closes."""
    a.settimeout(None)
    b.settimeout(None)
    peers = {a: b, b: a}
    while True:
        ready, _, _ = select.select([a, b], [], [])
        for s in ready:
            try:
                data = s.recv(RELAY_CHUNK)
            except OSError:
                return
            if not data:
                return
            try:
                peers[s].sendall(data)
            except OSError:
                return


def serve(conn, logpath):
    upstream = None
    try:
        head, rest = read_head(conn)
        if head is None:
            return
        parts = head.split("\r\n", 1)[0].split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            log(logpath, f"refused {parts[1] if len(parts) > 1 else '-'} 405")
            reply(conn, 405, "Method Not Allowed")
            return
        hp = split_target(parts[1])
        if hp is None or hp[0] not in ALLOWED_HOSTS:
            log(logpath, f"refused {parts[1]} 403")
            reply(conn, 403, "Forbidden")
            return
        addr = (ALLOWED_HOSTS[hp[0]], hp[1])
        try:
            upstream = socket.create_connection(addr, timeout=DIAL_TIMEOUT_S)
        except OSError:
            log(logpath, f"failed {addr[0]}:{addr[1]} 502")
            reply(conn, 502, "Bad Gateway")
            return
        log(logpath, f"open {addr[0]}:{addr[1]}")
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        relay(conn, upstream)
    except OSError:
        pass
    finally:
        if upstream is not None:
            upstream.close()
        conn.close()
        slots.release()


def exit_on_stdin_eof():
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass
    except OSError:
        pass
    os._exit(0)


def main():
    global slots
    ap = argparse.ArgumentParser(description="HTTP CONNECT proxy to loopback, for tests")
    ap.add_argument("log", help="file each request's line is appended to")
    ap.add_argument("--max-conns", type=int, default=32)
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds")
    args = ap.parse_args()
    slots = threading.BoundedSemaphore(max(1, args.max_conns))

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)

    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    timer = threading.Timer(args.time_limit, os._exit, args=(0,))
    timer.daemon = True
    timer.start()

    while True:
        conn, _ = srv.accept()
        if not slots.acquire(blocking=False):
            log(args.log, "refused - 503")
            reply(conn, 503, "Too Many Connections")
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn, args.log), daemon=True).start()


if __name__ == "__main__":
    main()
