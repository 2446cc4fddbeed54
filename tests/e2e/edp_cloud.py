# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""edp_cloud.py - a lab stand-in for Digi Device Cloud's EDP endpoint.

Test equipment for tests/e2e/test_cloud_connector.sh and `make demo`: it
listens on one address, completes the TLS handshake a Cloud Connector
client starts (TLS 1.0 without SNI, so OpenSSL's security level 0), answers
the client's EDP version message the way the cloud does, and logs what it
saw, one line per event, so a test asserts on what reached the server:

    listening 198.51.100.30:3199
    connection from 10.99.0.11:40522 to 198.51.100.30:3199
    handshake complete from 10.99.0.11:40522 to 198.51.100.30:3199 TLSv1 ...
    edp from 10.99.0.11:40522 type 0x0004 len 4: 00000002
    edp version 2 from 10.99.0.11:40522: answered 00 10 00 00
    edp from 10.99.0.11:40522 type 0x0020 len 2: 003c
    device_id 00000000-00000000-00409DFF-FF000001 from 10.99.0.11:40522
    closed 10.99.0.11:40522

The EDP framing (type, length, payload; version message type 4, "version
OK" type 0x10, payloads type 0x40 whose security-layer opcode 0x81 carries
the 16-byte Device ID) is the public protocol Digi's clients speak.  The
server never starts anything itself: each session lasts until the client
closes it or the process ends, so a test breaks sessions by ending the
process.  Standard library only.

usage: edp_cloud.py --listen ADDR [--port 3199] [--plain]
                    [--cert PEM --key PEM] --log FILE
"""
import argparse
import socket
import ssl
import struct
import sys
import threading
import warnings

EDP_VERSION = 0x0004
EDP_VERSION_OK = 0x0010
EDP_PAYLOAD = 0x0040
SEC_DEVICE_ID = 0x81

log_lock = threading.Lock()


def log(out, line):
    with log_lock:
        out.write(line + "\n")
        out.flush()


def hostport(addr):
    host, port = addr[0], addr[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def device_id(payload):
    """The Device ID of a security-layer payload, or None.

    The payload starts with a 2-byte message-layer header (the client's
    facility numbering), then the opcode and its data; look for the Device
    ID opcode followed by exactly 16 bytes rather than assume the header
    size, so the check stays right if the framing in front of it differs."""
    for off in range(0, min(len(payload), 4)):
        if payload[off] == SEC_DEVICE_ID and len(payload) - off - 1 == 16:
            h = payload[off + 1:].hex().upper()
            return "-".join(h[i:i + 8] for i in range(0, 32, 8))
    return None


def session(conn, peer, local, ctx, out):
    who = hostport(peer)
    try:
        if ctx is not None:
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(out, "handshake failed from %s: %s" % (who, e))
                return
            log(out, "handshake complete from %s to %s %s %s" %
                (who, hostport(local), conn.version(), conn.cipher()[0]))
        proto_answered = False
        while True:
            hdr = read_exact(conn, 4)
            if hdr is None:
                break
            mtype, mlen = struct.unpack("!HH", hdr)
            data = read_exact(conn, mlen) if mlen else b""
            if data is None:
                break
            log(out, "edp from %s type 0x%04x len %d: %s" % (who, mtype, mlen, data.hex()))
            if mtype == EDP_VERSION and mlen == 4:
                conn.sendall(struct.pack("!HH", EDP_VERSION_OK, 0))
                log(out, "edp version %d from %s: answered 00 10 00 00" %
                    (struct.unpack("!I", data)[0], who))
            elif mtype == EDP_PAYLOAD and not proto_answered and mlen == 4:
                # The client's EDP protocol version: 0 accepts it, and the
                # client goes on with its identity (Device ID, cloud URL).
                conn.sendall(struct.pack("!HHB", EDP_PAYLOAD, 1, 0))
                proto_answered = True
                log(out, "edp protocol version 0x%x from %s: answered 00 40 00 01 00" %
                    (struct.unpack("!I", data)[0], who))
            elif mtype == EDP_PAYLOAD:
                did = device_id(data)
                if did:
                    log(out, "device_id %s from %s" % (did, who))
    except OSError as e:
        log(out, "error from %s: %s" % (who, e))
    finally:
        log(out, "closed %s" % who)
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="lab EDP cloud endpoint")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=3199)
    ap.add_argument("--plain", action="store_true", help="EDP without TLS (3197)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    out = open(a.log, "a")
    ctx = None
    if not a.plain:
        if not a.cert or not a.key:
            ap.error("TLS needs --cert and --key (or --plain)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Cloud Connector offers TLS 1.0 only; OpenSSL 3 allows it only at
        # security level 0.  Python warns that TLS 1.0 is deprecated: that
        # is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.load_cert_chain(a.cert, a.key)

    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.listen, a.port))
    ls.listen(16)
    log(out, "listening %s" % hostport((a.listen, a.port)))
    while True:
        conn, peer = ls.accept()
        local = conn.getsockname()
        log(out, "connection from %s to %s" % (hostport(peer), hostport(local)))
        threading.Thread(target=session, args=(conn, peer, local, ctx, out),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
