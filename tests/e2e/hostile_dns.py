# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A DNS server that lies, for tests/e2e/test_faults_names.sh.

    hostile_dns.py serve ADDR PORT MODEFILE LOG
        Answers every query on UDP and TCP ADDR:PORT the way the first line
        of MODEFILE says (read again for every query, so the test switches
        modes without a restart).  One line per query goes to LOG.
    hostile_dns.py forge MODE NAME DSTADDR DSTPORT [ID]
        Sends one response of MODE for NAME (qtype A) from UDP port 53 to
        DSTADDR:DSTPORT: an answer nobody asked for, as seen by the snooper.
    hostile_dns.py ask NAME SERVER PORT SRCPORT ID
        Sends one A question for NAME from SRCPORT with ID, as a gateway
        does; prints the addresses of an answer that comes within a second.

Good data: a., b. and c.edpg.test answer 192.0.2.1, .2 and .3 (TEST-NET-1),
plus an offset the mode may give.
Every address a lie can carry is in 203.0.113.0/24 (TEST-NET-3), so the
test asserts that none of them ever reaches the tables.
"""
import os
import random
import socket
import struct
import sys
import threading

GOOD = {"a.edpg.test": 1, "b.edpg.test": 2, "c.edpg.test": 3}
EVIL = "203.0.113."
T_A, T_CNAME, T_AAAA, T_TXT = 1, 5, 28, 16


def name_wire(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name, rtype, ttl, rdata):
    return name_wire(name) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a_rr(name, addr, ttl):
    return rr(name, T_A, ttl, socket.inet_aton(addr))


def cname_rr(name, target, ttl):
    return rr(name, T_CNAME, ttl, name_wire(target))


def msg(qid, qname, qtype, an=(), ns=(), ar=(), flags=0x8180):
    hdr = struct.pack(">HHHHHH", qid, flags, 1, len(an), len(ns), len(ar))
    q = name_wire(qname) + struct.pack(">HH", qtype, 1)
    return hdr + q + b"".join(an) + b"".join(ns) + b"".join(ar)


def good_addr(qname, offset=0):
    """192.0.2.(1|2|3 + OFFSET) for a.|b.|c.edpg.test, None for other names."""
    n = GOOD.get(qname.lower())
    return "192.0.2.%d" % (n + offset) if n else None


def good(qid, qname, qtype, ttl, offset=0):
    addr = good_addr(qname, offset)
    if qtype != T_A or not addr:
        return msg(qid, qname, qtype)
    return msg(qid, qname, qtype, an=[a_rr(qname, addr, ttl)])


def junk_records(n, ttl=300):
    """Records for names nobody asked about, with lying addresses."""
    return [a_rr("x%d.evil.test" % i, EVIL + str(1 + i % 250), ttl) for i in range(n)]


def answer(mode, qid, qname, qtype, tcp):
    """The response bytes for MODE, or None to stay silent."""
    words = mode.split()
    m, args = words[0], words[1:]
    other = "b.edpg.test" if qname.lower() != "b.edpg.test" else "a.edpg.test"
    if m == "good":		# good TTL [OFFSET]
        return good(qid, qname, qtype, int(args[0]), int(args[1]) if len(args) > 1 else 0)
    if m == "lie":		# a well-formed answer for the name asked, with a lie in it
        return msg(qid, qname, qtype, an=[a_rr(qname, EVIL + "30", 300)])
    if m == "silent":
        return None
    if m == "garbage":
        return bytes(random.getrandbits(8) for _ in range(random.randint(1, 600)))
    if m == "header_only":	# 12 bytes: a response header and nothing else
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    if m == "cut":		# a lying answer cut inside its record
        return msg(qid, qname, qtype, an=[a_rr(qname, EVIL + "1", 300)])[:-3]
    if m == "counts":		# ancount says 200, one record present
        b = bytearray(msg(qid, qname, qtype, an=[a_rr(qname, EVIL + "2", 300)]))
        b[6:8] = struct.pack(">H", 200)
        return bytes(b)
    if m == "rdlen":		# an A record of 5 bytes
        bad = name_wire(qname) + struct.pack(">HHIH", T_A, 1, 300, 5) + socket.inet_aton(EVIL + "3") + b"\0"
        return msg(qid, qname, qtype, an=[bad])
    if m == "big_udp":		# > 512 bytes without TC: junk plus the good answer
        return msg(qid, qname, qtype,
                   an=[a_rr(qname, good_addr(qname), 300)] if qtype == T_A and good_addr(qname) else [],
                   ar=junk_records(60))
    if m == "tc":		# TC over UDP; over TCP, ARGS[0] says how to lie
        if not tcp:
            return struct.pack(">HHHHHH", qid, 0x8380, 1, 0, 0, 0) + name_wire(qname) + struct.pack(">HH", qtype, 1)
        return ("tcp", args[0])
    if m == "wrong_id":
        return msg(qid ^ 0x5a5a, qname, qtype, an=[a_rr(qname, EVIL + "4", 300)])
    if m == "wrong_q":		# answers another name, with the right id
        return msg(qid, "evil.test", qtype, an=[a_rr("evil.test", EVIL + "5", 300)])
    if m == "wrong_q_rules":	# answers the other rules name, with the right id
        return msg(qid, other, qtype, an=[a_rr(other, EVIL + "6", 300)])
    if m == "wrong_port":	# sent from another port (handled by the server)
        return ("port", msg(qid, qname, qtype, an=[a_rr(qname, EVIL + "7", 300)]))
    if m == "not_response":	# QR=0: a query, not an answer
        return msg(qid, qname, qtype, an=[a_rr(qname, EVIL + "8", 300)], flags=0x0100)
    if m == "poison":		# records for names not asked, one a rules name
        return msg(qid, qname, qtype, an=[a_rr(other, EVIL + "9", 300), a_rr("evil.test", EVIL + "10", 300)])
    if m == "sections":		# the asked name's A records in authority/additional only
        return msg(qid, qname, qtype, ns=[a_rr(qname, EVIL + "11", 300)], ar=[a_rr(qname, EVIL + "12", 300)])
    if m == "cname_dangling":	# a CNAME to a name whose A is not there; an A for a third name is
        return msg(qid, qname, qtype, an=[cname_rr(qname, "evil.test", 300), a_rr("evil2.test", EVIL + "13", 300)])
    if m == "cname_loop":	# a -> x -> a, and an A for a name on the loop
        return msg(qid, qname, qtype, an=[cname_rr(qname, "loop.evil.test", 300),
                                          cname_rr("loop.evil.test", qname, 300),
                                          a_rr("loop.evil.test", EVIL + "14", 300)])
    if m == "cname_other":	# a CNAME chain that lands on the other rules name
        return msg(qid, qname, qtype, an=[cname_rr("evil.test", other, 300), a_rr(other, EVIL + "15", 300)])
    if m == "ttl":		# the good answer with TTL ARGS[0]
        return good(qid, qname, qtype, int(args[0]) & 0xffffffff)
    raise ValueError("unknown mode " + m)


def read_mode(path):
    try:
        with open(path) as f:
            return f.readline().strip() or "silent"
    except OSError:
        return "silent"


def parse_query(data):
    if len(data) < 17:
        return None
    qid = struct.unpack(">H", data[:2])[0]
    pos, labels = 12, []
    while pos < len(data) and data[pos]:
        n = data[pos]
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
    return qid, ".".join(labels), qtype


def serve_udp(sock, other, modefile, log):
    while True:
        data, peer = sock.recvfrom(4096)
        q = parse_query(data)
        if not q:
            continue
        mode = read_mode(modefile)
        log.write("udp %s %s %d\n" % (mode, q[1], q[2]))
        log.flush()
        out = answer(mode, q[0], q[1], q[2], False)
        if out is None:
            continue
        if isinstance(out, tuple):
            other.sendto(out[1], peer)
        else:
            sock.sendto(out, peer)


def tcp_client(conn, modefile, log):
    """Answers every query of the connection (a resolver pipelines them)
    until a lie breaks the stream or the peer closes."""
    try:
        conn.settimeout(10)
        data = b""
        while True:
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            qlen = 2 + struct.unpack(">H", data[:2])[0]
            q, data = parse_query(data[2:qlen]), data[qlen:]
            if not q:
                return
            if not tcp_answer(conn, q, modefile, log):
                return
    except OSError:
        pass
    finally:
        conn.close()


def tcp_answer(conn, q, modefile, log):
    """Sends the answer to Q; False when the stream cannot go on."""
    mode = read_mode(modefile)
    log.write("tcp %s %s %d\n" % (mode, q[1], q[2]))
    log.flush()
    out = answer(mode, q[0], q[1], q[2], True)
    if isinstance(out, tuple) and out[0] == "tcp":
        lie = out[1]
        body = msg(q[0], q[1], q[2], an=[a_rr(q[1], EVIL + "20", 300)], ar=junk_records(100))
        if lie == "short":	# says 65535 bytes, sends 40, closes
            conn.sendall(struct.pack(">H", 0xffff) + body[:40])
            return False
        if lie == "long":	# says 40 bytes, sends the whole message
            conn.sendall(struct.pack(">H", 40) + body)
            return False
        if lie == "huge":	# 70 KiB: a max-size message of junk, then more
            big = msg(q[0], q[1], q[2], ar=junk_records(4000))[:0xffff]
            conn.sendall(struct.pack(">H", len(big)) + big + os.urandom(70000 - len(big)))
            return False
        if lie == "hang":	# says 65535 bytes, sends 100, never closes
            conn.sendall(struct.pack(">H", 0xffff) + body[:100])
            threading.Event().wait(30)
            return False
        if lie == "good":	# the good answer over TCP, padded past 512
            g = msg(q[0], q[1], q[2],
                    an=[a_rr(q[1], good_addr(q[1]), 300)] if q[2] == T_A and good_addr(q[1]) else [],
                    ar=junk_records(80))
            conn.sendall(struct.pack(">H", len(g)) + g)
            return True
        return False
    if isinstance(out, bytes):
        conn.sendall(struct.pack(">H", len(out)) + out)
        return True
    return out is None


def serve_tcp(lsock, modefile, log):
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=tcp_client, args=(conn, modefile, log), daemon=True).start()


def serve(addr, port, modefile, logpath):
    log = open(logpath, "a")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((addr, 0))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(16)
    threading.Thread(target=serve_tcp, args=(t, modefile, log), daemon=True).start()
    log.write("ready\n")
    log.flush()
    serve_udp(u, other, modefile, log)


def forge(mode, name, dst, dport, qid):
    out = answer(mode, qid, name, T_A, False)
    if isinstance(out, tuple):
        out = out[1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 53))
    s.sendto(out, (dst, dport))


def ask(name, server, port, sport, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire(name) + struct.pack(">HH", T_A, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", sport))
    s.settimeout(1)
    s.sendto(q, (server, port))
    try:
        data = s.recv(4096)
    except OSError:
        return
    # The test's answers are uncompressed: the A records' last 4 bytes.
    an = struct.unpack(">H", data[6:8])[0]
    pos = len(q)
    for _ in range(an):
        while data[pos]:
            pos += 1 + data[pos]
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos + 1:pos + 11])
        if rtype == T_A:
            print(socket.inet_ntoa(data[pos + 11:pos + 15]))
        pos += 11 + rdlen


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
              int(sys.argv[6], 0) if len(sys.argv) > 6 else 0x1234)
    elif sys.argv[1] == "ask":
        ask(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6], 0))
    else:
        sys.exit("usage: hostile_dns.py serve ADDR PORT MODEFILE LOG | forge MODE NAME DST DPORT [ID]"
                 " | ask NAME SERVER PORT SRCPORT ID")
