# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The seccomp half of a systemd unit's sandbox, for tests/e2e/test_sandbox.sh.

    seccomp_exec.py [SETTING=VALUE]... -- CMD [ARG]...

Installs a seccomp filter made of the unit's settings (as systemd words
them) and execs CMD under it.  no_new_privs must already be set (setpriv
--no-new-privs: NoNewPrivileges=yes).  Each setting is what systemd
documents for it, on x86_64 only:

  SystemCallArchitectures=native   other ABIs (i386, x32) killed / refused
  RestrictAddressFamilies=AF_...   socket() of another family: EAFNOSUPPORT
  MemoryDenyWriteExecute=yes       mmap W+X, mprotect/pkey_mprotect +X,
                                   shmat SHM_EXEC: EPERM
  RestrictNamespaces=yes           unshare/setns/clone with CLONE_NEW*: EPERM;
                                   clone3: ENOSYS (its flags are not visible)
  RestrictRealtime=yes             sched_setscheduler FIFO/RR/DEADLINE,
                                   sched_setattr: EPERM
  RestrictSUIDSGID=yes             chmod family with S_ISUID/S_ISGID: EPERM
  LockPersonality=yes              personality() other than query/PER_LINUX: EPERM
  ProtectClock=yes                 clock_settime, clock_adjtime, settimeofday,
                                   adjtimex: EPERM
  ProtectHostname=yes              sethostname, setdomainname: EPERM

An unknown setting is an error: the caller must not believe it applied.
"""
import ctypes
import errno
import os
import platform
import socket
import sys

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
NR = {
    "mmap": 9, "mprotect": 10, "shmat": 30, "socket": 41, "socketpair": 53,
    "clone": 56, "chmod": 90, "fchmod": 91, "personality": 135,
    "sched_setscheduler": 144, "adjtimex": 159, "settimeofday": 164,
    "sethostname": 170, "setdomainname": 171, "clock_settime": 227,
    "fchmodat": 268, "unshare": 272, "clock_adjtime": 305, "setns": 308,
    "sched_setattr": 314, "pkey_mprotect": 329, "clone3": 435, "fchmodat2": 452,
}
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
S_ISUID_GID = 0o6000
CLONE_NEW = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | \
    0x10000000 | 0x20000000 | 0x40000000  # TIME NS CGROUP UTS IPC USER PID NET
SCHED_RT = (1, 2, 6)  # FIFO, RR, DEADLINE

RET_ALLOW = 0x7FFF0000
RET_KILL = 0x80000000
def RET_ERRNO(e): return 0x00050000 | e

LD_W_ABS, JEQ, JGE, JSET, JA, RET, AND = 0x20, 0x15, 0x35, 0x45, 0x05, 0x06, 0x54


class Asm:
    """Classic BPF with labels for the jumps."""

    def __init__(self):
        self.ins, self.labels = [], {}

    def label(self, name):
        self.labels[name] = len(self.ins)

    def op(self, code, k=0, jt=None, jf=None):
        self.ins.append([code, jt, jf, k])

    def code(self):
        out = []
        for i, (code, jt, jf, k) in enumerate(self.ins):
            rel = [0 if j is None else self.labels[j] - (i + 1) for j in (jt, jf)]
            if code == JA:
                k, rel = rel[0], [0, 0]
            if not all(0 <= r < 256 for r in rel):
                raise SystemExit("seccomp_exec: jump out of range")
            out.append((code, rel[0], rel[1], k & 0xFFFFFFFF))
        return out


def arg(i):
    return 16 + 8 * i  # low 32 bits of args[i] (little-endian)


def build(settings):
    a = Asm()
    blocks = []  # (syscall, check, args...)

    def deny(name, err=errno.EPERM):
        blocks.append((name, "always", err))

    for key, value in settings:
        if key == "SystemCallArchitectures":
            if value != "native":
                raise SystemExit(f"seccomp_exec: {key}={value} not supported")
            continue  # always checked first, below
        if key == "RestrictAddressFamilies":
            fams = []
            for f in value.split():
                if not hasattr(socket, f):
                    raise SystemExit(f"seccomp_exec: unknown family {f}")
                fams.append(int(getattr(socket, f)))
            blocks.append(("socket", "not_in", errno.EAFNOSUPPORT, 0, fams))
            blocks.append(("socketpair", "not_in", errno.EAFNOSUPPORT, 0, fams))
        elif key == "MemoryDenyWriteExecute" and value == "yes":
            blocks.append(("mmap", "all", errno.EPERM, 2, PROT_WRITE | PROT_EXEC))
            blocks.append(("mprotect", "any", errno.EPERM, 2, PROT_EXEC))
            blocks.append(("pkey_mprotect", "any", errno.EPERM, 2, PROT_EXEC))
            blocks.append(("shmat", "any", errno.EPERM, 2, SHM_EXEC))
        elif key == "RestrictNamespaces" and value == "yes":
            blocks.append(("unshare", "any", errno.EPERM, 0, CLONE_NEW))
            blocks.append(("clone", "any", errno.EPERM, 0, CLONE_NEW))
            deny("setns")
            deny("clone3", errno.ENOSYS)
        elif key == "RestrictRealtime" and value == "yes":
            blocks.append(("sched_setscheduler", "in", errno.EPERM, 1, SCHED_RT))
            deny("sched_setattr")
        elif key == "RestrictSUIDSGID" and value == "yes":
            blocks.append(("chmod", "any", errno.EPERM, 1, S_ISUID_GID))
            blocks.append(("fchmod", "any", errno.EPERM, 1, S_ISUID_GID))
            blocks.append(("fchmodat", "any", errno.EPERM, 2, S_ISUID_GID))
            blocks.append(("fchmodat2", "any", errno.EPERM, 2, S_ISUID_GID))
        elif key == "LockPersonality" and value == "yes":
            blocks.append(("personality", "not_in", errno.EPERM, 0, [0, 0xFFFFFFFF]))
        elif key == "ProtectClock" and value == "yes":
            for n in ("clock_settime", "clock_adjtime", "settimeofday", "adjtimex"):
                deny(n)
        elif key == "ProtectHostname" and value == "yes":
            deny("sethostname")
            deny("setdomainname")
        else:
            raise SystemExit(f"seccomp_exec: {key}={value} not supported")

    # SystemCallArchitectures=native, always: no other ABI gets through.
    a.op(LD_W_ABS, 4)
    a.op(JEQ, AUDIT_ARCH_X86_64, None, "kill")
    for i, (name, check, err, *rest) in enumerate(blocks):
        nxt = f"b{i + 1}"
        a.label(f"b{i}")
        a.op(LD_W_ABS, 0)
        if i == 0:
            a.op(JGE, X32_BIT, "kill", None)
        a.op(JEQ, NR[name], None, nxt)
        if check == "always":
            a.op(RET, RET_ERRNO(err))
            continue
        a.op(LD_W_ABS, arg(rest[0]))
        if check == "any":
            a.op(JSET, rest[1], None, nxt)
        elif check == "all":
            a.op(AND, rest[1])
            a.op(JEQ, rest[1], None, nxt)
        elif check == "not_in":
            for v in rest[1]:
                a.op(JEQ, v, nxt, None)
        elif check == "in":
            for v in rest[1]:
                a.op(JEQ, v, f"e{i}", None)
            a.op(JA, 0, nxt)
            a.label(f"e{i}")
        a.op(RET, RET_ERRNO(err))
    a.label(f"b{len(blocks)}")
    a.op(RET, RET_ALLOW)
    a.label("kill")
    a.op(RET, RET_KILL)
    return a.code()


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def main():
    if "--" not in sys.argv:
        raise SystemExit(__doc__)
    sep = sys.argv.index("--")
    settings = [s.split("=", 1) for s in sys.argv[1:sep]]
    cmd = sys.argv[sep + 1:]
    if platform.machine() != "x86_64":
        raise SystemExit(f"seccomp_exec: x86_64 only, not {platform.machine()}")
    code = build(settings)
    arr = (SockFilter * len(code))(*[SockFilter(*c) for c in code])
    prog = SockFprog(len(code), arr)
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0):
        e = ctypes.get_errno()
        raise SystemExit(f"seccomp_exec: cannot install the filter: {os.strerror(e)}")
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
