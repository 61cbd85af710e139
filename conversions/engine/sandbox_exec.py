"""The sandbox launcher: applies the unprivileged layers to itself, then execs the tool.

Run as `python3 -I -S -c <this file's text> <spec> <tool> <args...>`: the
runner passes the source text, not a path, so nothing of the application needs
to be visible inside a mount namespace. Standard library only (ctypes for the
syscalls Python does not wrap), no imports of the project. Start-up time is
the sandbox's cost per tool call, so only built-in modules besides ctypes:
the spec is a hex-encoded marshal (format 4, the same in every Python 3) of a
dict of plain values, not JSON (json pulls in re, enum, collections...).

In this order, each one fatal when asked for and impossible (exit 126 with a
line on stderr naming the layer: never run the tool half-boxed):
1. rlimits (CPU, address space, file size, processes, no core files);
2. capabilities dropped (a root worker's tool gets none back at exec);
3. no_new_privs (no setuid/file-capability gain at exec; Landlock and seccomp need it);
4. Landlock: the job dir read-write, system paths read-only, TCP connect/bind
   refused (ABI 4+), signals and abstract sockets scoped to the tool (ABI 6+);
5. seccomp: socket() only for AF_UNIX; ptrace, process_vm_readv/writev,
   io_uring (IORING_OP_SOCKET makes sockets without socket()), bpf,
   perf_event_open and userfaultfd refused; a foreign syscall ABI kills.
"""

# The C module, not Lib/signal.py: that one builds its enums (enum, functools, collections...),
# ~4 ms of every tool call's start on this machine for the two constants used below.
import _signal
import ctypes
import marshal
import os
import resource
import struct
import sys

EXIT_SANDBOX = 126

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
SECBIT_LOCKED_ALL_NOROOT = 0x2F  # NOROOT, NO_SETUID_FIXUP and their locks
SECCOMP_SET_MODE_FILTER = 1

# Syscall numbers per machine (`uname -m`); Landlock's are the same on both.
SYSCALLS = {
    "x86_64": {
        "audit_arch": 0xC000003E,
        "socket": 41, "socketpair": 53, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "capset": 126,
    },
    "aarch64": {
        "audit_arch": 0xC00000B7,
        "socket": 198, "socketpair": 199, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "capset": 91,
    },
}  # fmt: skip
IO_URING = (425, 426, 427)
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "userfaultfd")
AF_UNIX = 1
EPERM = 1

RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
    "nofile": resource.RLIMIT_NOFILE,
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class Refused(Exception):
    pass


def _check(result, what):
    if result < 0:
        raise Refused(f"{what}: {os.strerror(ctypes.get_errno())}")
    return result


def set_limits(limits):
    for name, (soft, hard) in limits.items():
        try:
            resource.setrlimit(RLIMITS[name], (soft, hard))
        except (ValueError, OSError) as exc:
            raise Refused(f"rlimit {name}: {exc}") from None


def drop_capabilities():
    """Empty every capability set; with the bounding set gone, exec as uid 0 regains none."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break  # EINVAL: past the last capability; EPERM: no CAP_SETPCAP, so none to give up
    _libc.prctl(PR_SET_SECUREBITS, SECBIT_LOCKED_ALL_NOROOT, 0, 0, 0)  # EPERM without CAP_SETPCAP: nothing to lock
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # effective, permitted, inheritable: zero, twice (two 32-bit words)
    hdr = ctypes.create_string_buffer(header)
    dat = ctypes.create_string_buffer(data)
    _check(_libc.syscall(SYSCALLS[os.uname().machine]["capset"], hdr, dat), "capset")


def no_new_privs():
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


# --- Landlock ----------------------------------------------------------------

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
FS_REMOVE_FILE, FS_MAKE_SOCK = 1 << 5, 1 << 9
FS_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1


def landlock_abi():
    return _libc.syscall(LANDLOCK_CREATE_RULESET, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION


def landlock(read_write, read_only, network=False, sockets=()):
    abi = landlock_abi()
    if abi < 1:
        raise Refused("landlock: not offered by this kernel")
    fs = FS_ABI1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and not network else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _check(_libc.syscall(LANDLOCK_CREATE_RULESET, buf, len(attr), 0), "landlock ruleset")
    readable = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    for paths, access in ((read_only, readable), (read_write, fs), (sockets, FS_MAKE_SOCK | FS_REMOVE_FILE)):
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # /lib32 and friends exist on some systems only
            try:
                allowed = access if os.path.isdir(path) else access & FS_FILE_ONLY
                rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd), 12)
                _check(_libc.syscall(LANDLOCK_ADD_RULE, ruleset, 1, rule, 0), f"landlock rule {path}")
            finally:
                os.close(fd)
    _check(_libc.syscall(LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock restrict_self")
    os.close(ruleset)


# --- seccomp -----------------------------------------------------------------

BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16


def _insn(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program(machine, network=False):
    """Classic BPF: arch check, then a short deny list; socket families by allow-list (AF_UNIX)."""
    table = SYSCALLS[machine]
    denied = [table[name] for name in DENIED] + list(IO_URING)
    prog = [
        _insn(BPF_LD_W_ABS, OFF_ARCH),
        _insn(BPF_JEQ_K, table["audit_arch"], 1, 0),
        _insn(BPF_RET_K, RET_KILL_PROCESS),
        _insn(BPF_LD_W_ABS, OFF_NR),
    ]
    if machine == "x86_64":  # x32 ABI numbers (bit 30) would slip past the table
        prog += [_insn(BPF_JGE_K, 0x40000000, 0, 1), _insn(BPF_RET_K, RET_KILL_PROCESS)]
    for nr in denied:
        prog += [_insn(BPF_JEQ_K, nr, 0, 1), _insn(BPF_RET_K, RET_ERRNO | EPERM)]
    if network:
        return b"".join([*prog, _insn(BPF_RET_K, RET_ALLOW)])
    # socket/socketpair: jump to the family check, else allow.
    prog += [
        _insn(BPF_JEQ_K, table["socket"], 2, 0),
        _insn(BPF_JEQ_K, table["socketpair"], 1, 0),
        _insn(BPF_RET_K, RET_ALLOW),
        _insn(BPF_LD_W_ABS, OFF_ARG0),  # the family's low word (little-endian on both machines)
        _insn(BPF_JEQ_K, AF_UNIX, 0, 1),
        _insn(BPF_RET_K, RET_ALLOW),
        _insn(BPF_RET_K, RET_ERRNO | EPERM),
    ]
    return b"".join(prog)


def seccomp(network=False):
    machine = os.uname().machine
    if machine not in SYSCALLS:
        raise Refused(f"seccomp: no syscall table for {machine}")
    code = seccomp_program(machine, network)
    filt = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(filt))
    prog = ctypes.create_string_buffer(fprog, len(fprog))
    _check(_libc.syscall(317 if machine == "x86_64" else 277, SECCOMP_SET_MODE_FILTER, 0, prog), "seccomp")


def apply(spec):
    set_limits(spec.get("limits", {}))
    if spec.get("seccomp") or spec.get("landlock"):
        drop_capabilities()
        no_new_privs()
    if spec.get("landlock"):
        rules = spec["landlock"]
        landlock(rules["rw"], rules["ro"], rules.get("network", False), rules.get("sock", ()))
    if spec.get("seccomp"):
        seccomp(network=spec["seccomp"].get("network", False))


def main(argv):
    spec, cmd = marshal.loads(bytes.fromhex(argv[1])), argv[2:]
    try:
        apply(spec)
    except Refused as exc:
        sys.stderr.write(f"sandbox: cannot apply {exc}\n")
        return EXIT_SANDBOX
    # Python ignores these at start-up and an ignored signal stays ignored across exec:
    # give the tool the defaults Popen(restore_signals=True) would have (SIGXFSZ ends it at the size limit).
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        sys.stderr.write(f"sandbox: cannot run {cmd[0]}: {exc.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
