#!/usr/bin/env python3
"""The node bed's only bridge between the host's loopback and the bed's network namespace.

    bed_forward.py --netns /run/netns/ecsbed-X --log FILE \
        --into ADDR:PORT=PORT ...   listen on ADDR:PORT inside the bed netns, connect to
                                    127.0.0.1:PORT in the host netns (pods -> apiserver, moto)
        --connect-uds PATH --allow CIDR
                                    HTTP CONNECT proxy on a unix socket for the API server's
                                    egress selector: connects inside the bed netns, only to CIDR
                                    (apiserver -> kubelet, pods)

A socket belongs to the network namespace its thread was in when it was created, so each
listener is created in one namespace and its thread then moves (setns) to the namespace it
connects in. Nothing listens on or connects to a host address other than 127.0.0.1, and the
bed netns has no route out, so a pod cannot reach anything but these listeners.
Every accepted connection is logged with its peer, so tests can prove which path was used.
"""
import argparse
import ctypes
import ipaddress
import os
import socket
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_log = sys.stderr


def log(msg):
    with _lock:
        _log.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
        _log.flush()


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def splice(a, b):
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def serve_into(listener, target_port, host_fd, name):
    setns(host_fd)  # connections out are made in the host netns, to its loopback only
    while True:
        conn, peer = listener.accept()
        log(f"{name} accept peer={peer[0]}:{peer[1]} -> 127.0.0.1:{target_port}")

        def handle(conn=conn):
            try:
                out = socket.create_connection(("127.0.0.1", target_port), timeout=10)
                out.settimeout(None)
            except OSError as e:
                log(f"{name} connect 127.0.0.1:{target_port} failed: {e}")
                conn.close()
                return
            splice(conn, out)

        threading.Thread(target=handle, daemon=True).start()


def read_request(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(4096)
        if not data or len(buf) > 16384:
            return None, b""
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1").split("\r\n")[0], rest


def serve_connect(listener, bed_fd, allowed):
    setns(bed_fd)  # targets are dialled inside the bed netns
    while True:
        conn, _ = listener.accept()

        def handle(conn=conn):
            line, rest = read_request(conn)
            parts = (line or "").split()
            try:
                if len(parts) < 2 or parts[0] != "CONNECT":
                    raise ValueError(f"not a CONNECT request: {line!r}")
                host, port = parts[1].rsplit(":", 1)
                addr = ipaddress.ip_address(host.strip("[]"))
                if not any(addr in net for net in allowed):
                    raise ValueError(f"{addr} is outside the bed network")
                out = socket.create_connection((str(addr), int(port)), timeout=10)
                out.settimeout(None)
            except (OSError, ValueError) as e:
                log(f"egress refused {line!r}: {e}")
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                conn.close()
                return
            log(f"egress {parts[1]}")
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                out.sendall(rest)
            splice(conn, out)

        threading.Thread(target=handle, daemon=True).start()


def main():
    global _log
    p = argparse.ArgumentParser()
    p.add_argument("--netns", required=True)
    p.add_argument("--log")
    p.add_argument("--into", action="append", default=[])
    p.add_argument("--connect-uds")
    p.add_argument("--allow", action="append", default=[])
    a = p.parse_args()
    if a.log:
        _log = open(a.log, "a", buffering=1)
    host_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    bed_fd = os.open(a.netns, os.O_RDONLY)
    threads = []
    for spec in a.into:
        listen, port = spec.split("=")
        addr, lport = listen.rsplit(":", 1)
        setns(bed_fd)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(lport)))
        s.listen(128)
        setns(host_fd)
        threads.append(threading.Thread(
            target=serve_into, args=(s, int(port), host_fd, f"into {listen}"), daemon=True))
    if a.connect_uds:
        try:
            os.unlink(a.connect_uds)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX)
        s.bind(a.connect_uds)
        os.chmod(a.connect_uds, 0o600)
        s.listen(128)
        allowed = [ipaddress.ip_network(c) for c in a.allow]
        threads.append(threading.Thread(target=serve_connect, args=(s, bed_fd, allowed), daemon=True))
    for t in threads:
        t.start()
    log(f"ready: {' '.join(a.into)} {a.connect_uds or ''}")
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
