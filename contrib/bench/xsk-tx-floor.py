#!/usr/bin/env python3
# xsk-tx-floor.py -- tx-floor.sh's measurement with an AF_XDP socket (copy mode, TX only)
# instead of trafgen's PACKET_TX_RING.
#
# Same topology as tx-floor.sh (own prefix, so both can coexist): namespace $PFX-ns, veth
# $PFX-s (root) / $PFX-p (namespace, nft netdev ingress rule counting and dropping UDP dport
# 9). This process pins itself to SWITCH_CPU, registers a UMEM, writes one 60-byte UDP frame
# into every UMEM frame and one TX descriptor into every TX ring slot once; the send loop
# then only advances the TX producer, kicks the kernel with send(MSG_DONTWAIT) and drains
# the completion ring, so Python's per-packet work is close to nothing. Reports, like
# tx-floor.sh: pps counted by the sink, SWITCH_CPU busy/softirq share from /proc/stat, CPU
# time per sent packet, plus this process's own user/system time and XDP_STATISTICS.
#
# Before the measurement it also tries to bind with XDP_ZEROCOPY and reports the errno the
# kernel gives (veth has no zero-copy AF_XDP support).
#
# Usage: contrib/bench/xsk-tx-floor.py        (root; needs ip, nft; python3 stdlib only)
# Environment: SWITCH_CPU (1), DURATION (8), PKT_LEN (60), PFX (xsf), RING (2048),
#              FRAMES (4096), BATCH (2048: max descriptors queued per kick),
#              TX_BUDGET (0 = kernel default; else XDP_MAX_TX_SKB_BUDGET, kernel >= 6.17)
import ctypes
import errno
import mmap
import os
import resource
import socket
import struct
import subprocess
import sys
import time

SWITCH_CPU = int(os.environ.get("SWITCH_CPU", "1"))
DURATION = float(os.environ.get("DURATION", "8"))
PKT_LEN = int(os.environ.get("PKT_LEN", "60"))
PFX = os.environ.get("PFX", "xsf")
RING = int(os.environ.get("RING", "2048"))
FRAMES = int(os.environ.get("FRAMES", "4096"))
BATCH = int(os.environ.get("BATCH", "2048"))
TX_BUDGET = int(os.environ.get("TX_BUDGET", "0"))
FRAME_SIZE = 2048
NS, S, P = PFX + "-ns", PFX + "-s", PFX + "-p"
MAC_S, MAC_P = "02:00:00:00:1f:01", "02:00:00:00:1f:02"
IP_S, IP_P = "198.18.0.1", "198.18.0.2"
DPORT = 9

# include/uapi/linux/if_xdp.h (checked against the installed header and upstream)
AF_XDP = 44
SOL_XDP = 283
XDP_MMAP_OFFSETS = 1
XDP_RX_RING = 2
XDP_TX_RING = 3
XDP_UMEM_REG = 4
XDP_UMEM_FILL_RING = 5
XDP_UMEM_COMPLETION_RING = 6
XDP_STATISTICS = 7
XDP_OPTIONS = 8
XDP_MAX_TX_SKB_BUDGET = 9
XDP_COPY = 1 << 1
XDP_ZEROCOPY = 1 << 2
XDP_PGOFF_TX_RING = 0x80000000
XDP_UMEM_PGOFF_FILL_RING = 0x100000000
XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000
XDP_OPTIONS_ZEROCOPY = 1

libc = ctypes.CDLL(None, use_errno=True)


def sh(*args, check=True, input=None):
    return subprocess.run(args, check=check, input=input, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cleanup():
    sh("ip", "link", "del", S, check=False)
    sh("ip", "netns", "del", NS, check=False)


def setup():
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", S, "address", MAC_S, "type", "veth", "peer", "name", P, "netns", NS)
    try:
        with open(f"/proc/sys/net/ipv6/conf/{S}/disable_ipv6", "w") as f:
            f.write("1")
    except OSError:
        pass
    sh("ip", "link", "set", S, "up")
    sh("ip", "-n", NS, "link", "set", P, "address", MAC_P)
    sh("ip", "-n", NS, "addr", "add", IP_P + "/24", "dev", P)
    sh("ip", "-n", NS, "link", "set", P, "up")
    sh("ip", "netns", "exec", NS, "nft", "-f", "-", input=f"""
table netdev {PFX}sink {{
    chain in {{
        type filter hook ingress device "{P}" priority 0; policy accept;
        udp dport {DPORT} counter drop
    }}
}}
""")


def sink():
    out = sh("ip", "netns", "exec", NS, "nft", "list", "chain", "netdev", PFX + "sink", "in").stdout
    for line in out.splitlines():
        w = line.split()
        if "counter" in w and "packets" in w:
            return int(w[w.index("packets") + 1])
    raise RuntimeError("sink counter not found:\n" + out)


def cpustat():
    with open("/proc/stat") as f:
        for line in f:
            w = line.split()
            if w[0] == f"cpu{SWITCH_CPU}":
                v = [int(x) for x in w[1:9]]
                return sum(v), v[3] + v[4], v[6]   # total, idle+iowait, softirq
    raise RuntimeError("cpu line missing")


def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame():
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    eth = mac(MAC_P) + mac(MAC_S) + b"\x08\x00"
    ip_len = PKT_LEN - 14
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 17, 0,
                     socket.inet_aton(IP_S), socket.inet_aton(IP_P))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", 1024, DPORT, ip_len - 20, 0)
    f = eth + ip + udp
    return f + bytes(PKT_LEN - len(f))


def oserr(what):
    e = ctypes.get_errno()
    return OSError(e, f"{what}: {os.strerror(e)} ({errno.errorcode.get(e, e)})")


class Xsk:
    """One AF_XDP socket with its own UMEM, TX ring and completion ring (and a fill ring,
    which bind insists on when the socket owns the UMEM)."""

    def __init__(self, ifindex, bind_flags):
        self.sock = socket.socket(AF_XDP, socket.SOCK_RAW, 0)
        self.fd = self.sock.fileno()
        self.maps = []
        self.umem = mmap.mmap(-1, FRAMES * FRAME_SIZE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS |
                              mmap.MAP_POPULATE, mmap.PROT_READ | mmap.PROT_WRITE)
        cbuf = ctypes.c_char.from_buffer(self.umem)
        self.umem_addr = ctypes.addressof(cbuf)
        del cbuf
        pkt = frame()
        for i in range(FRAMES):
            self.umem[i * FRAME_SIZE:i * FRAME_SIZE + len(pkt)] = pkt
        # struct xdp_umem_reg {u64 addr, len; u32 chunk_size, headroom, flags, tx_metadata_len}
        reg = struct.pack("=QQIIII", self.umem_addr, FRAMES * FRAME_SIZE, FRAME_SIZE, 0, 0, 0)
        try:
            self.sock.setsockopt(SOL_XDP, XDP_UMEM_REG, reg)
            self.umem_reg_size = len(reg)
        except OSError:          # pre-6.8 kernels: no tx_metadata_len, 28 -> 32 padded anyway
            self.sock.setsockopt(SOL_XDP, XDP_UMEM_REG, reg[:24])
            self.umem_reg_size = 24
        for opt in (XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_TX_RING):
            self.sock.setsockopt(SOL_XDP, opt, struct.pack("=I", RING))
        if TX_BUDGET:
            self.sock.setsockopt(SOL_XDP, XDP_MAX_TX_SKB_BUDGET, struct.pack("=I", TX_BUDGET))
        raw = self.sock.getsockopt(SOL_XDP, XDP_MMAP_OFFSETS, 128)
        if len(raw) != 128:
            raise RuntimeError(f"XDP_MMAP_OFFSETS returned {len(raw)} bytes, want 128 (v2, with flags)")
        off = struct.unpack("=16Q", raw)
        self.off = {n: off[4 * i:4 * i + 4] for i, n in enumerate(("rx", "tx", "fr", "cr"))}
        self.tx = self._map("tx", XDP_PGOFF_TX_RING, 16)
        self.fr = self._map("fr", XDP_UMEM_PGOFF_FILL_RING, 8)
        self.cr = self._map("cr", XDP_UMEM_PGOFF_COMPLETION_RING, 8)
        # every TX slot i permanently describes UMEM frame i: struct xdp_desc {u64 addr; u32 len, options}
        d = self.off["tx"][2]
        for i in range(RING):
            struct.pack_into("=QII", self.tx, d + 16 * i, i * FRAME_SIZE, PKT_LEN, 0)
        # struct sockaddr_xdp {u16 family, flags; u32 ifindex, queue_id, shared_umem_fd}
        sa = struct.pack("=HHIII", AF_XDP, bind_flags, ifindex, 0, 0)
        buf = ctypes.create_string_buffer(sa, len(sa))
        if libc.bind(self.fd, buf, len(sa)) != 0:
            raise oserr("bind")

    def _map(self, name, pgoff, desc_size):
        m = mmap.mmap(self.fd, self.off[name][2] + RING * desc_size, mmap.MAP_SHARED |
                      mmap.MAP_POPULATE, mmap.PROT_READ | mmap.PROT_WRITE, offset=pgoff)
        self.maps.append(m)
        return m

    def options(self):
        return struct.unpack("=I", self.sock.getsockopt(SOL_XDP, XDP_OPTIONS, 4))[0]

    def stats(self):
        raw = self.sock.getsockopt(SOL_XDP, XDP_STATISTICS, 48)
        names = ("rx_dropped", "rx_invalid_descs", "tx_invalid_descs", "rx_ring_full",
                 "rx_fill_ring_empty_descs", "tx_ring_empty_descs")
        return dict(zip(names, struct.unpack(f"={len(raw) // 8}Q", raw)))

    def close(self):
        for m in self.maps:
            m.close()
        self.sock.close()
        self.umem.close()


def run(xsk):
    tx, cr = xsk.tx, xsk.cr
    tx_prod_off = xsk.off["tx"][0]
    cr_prod_off, cr_cons_off = xsk.off["cr"][0], xsk.off["cr"][1]
    u32 = struct.Struct("=I")
    pack, unpack = u32.pack_into, u32.unpack_from
    send = xsk.sock.send
    dontwait = socket.MSG_DONTWAIT
    prod = unpack(tx, tx_prod_off)[0]
    done = unpack(cr, cr_cons_off)[0]
    start_prod = prod
    kicks = retries = 0
    errs = {}
    deadline = time.monotonic() + DURATION
    it = 0
    while True:
        it += 1
        if (it & 63) == 0 and time.monotonic() >= deadline:
            break
        # reap completions: every completed frame frees one TX slot (contents never change)
        cprod = unpack(cr, cr_prod_off)[0]
        if cprod != done:
            done = cprod
            pack(cr, cr_cons_off, done)
        free = RING - ((prod - done) & 0xffffffff)
        if free:
            prod = (prod + min(free, BATCH)) & 0xffffffff
            pack(tx, tx_prod_off, prod)      # descriptors were written once, at setup
        try:
            send(b"", dontwait)
            kicks += 1
        except OSError as e:                 # EAGAIN/EBUSY/ENOBUFS: kernel wants another kick
            if e.errno not in (errno.EAGAIN, errno.EBUSY, errno.ENOBUFS):
                raise
            retries += 1
            errs[e.errno] = errs.get(e.errno, 0) + 1
    # let the kernel finish what is queued so the sink count matches what we handed over
    for _ in range(1000):
        if unpack(cr, cr_prod_off)[0] == prod:
            break
        try:
            send(b"", dontwait)
        except OSError:
            pass
    cprod = unpack(cr, cr_prod_off)[0]
    pack(cr, cr_cons_off, cprod)
    return {"queued": (prod - start_prod) & 0xffffffff, "kicks": kicks, "retries": retries,
            "errs": {errno.errorcode.get(k, k): v for k, v in errs.items()}}


def main():
    if os.geteuid() != 0:
        sys.exit(f"{sys.argv[0]}: must run as root")
    os.sched_setaffinity(0, {SWITCH_CPU})
    cleanup()
    try:
        setup()
        ifindex = socket.if_nametoindex(S)

        try:
            z = Xsk(ifindex, XDP_ZEROCOPY)
            print(f"xsk-tx-floor: XDP_ZEROCOPY bind on {S} ACCEPTED (options 0x{z.options():x})")
            z.close()
        except OSError as e:
            name = "EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode.get(e.errno, "?")
            print(f"xsk-tx-floor: XDP_ZEROCOPY bind on {S} refused: errno {e.errno} "
                  f"({name}: {os.strerror(e.errno)})")

        xsk = Xsk(ifindex, XDP_COPY)
        opts = xsk.options()
        print(f"xsk-tx-floor: copy-mode bind ok (XDP_OPTIONS 0x{opts:x}, zerocopy="
              f"{bool(opts & XDP_OPTIONS_ZEROCOPY)}), umem_reg {xsk.umem_reg_size} B, ring {RING}, "
              f"batch {BATCH}, tx budget {TX_BUDGET or 'default'}")

        k0 = sink()
        t0, i0, s0 = cpustat()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        res = run(xsk)
        w1 = time.monotonic()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        t1, i1, s1 = cpustat()
        k1 = sink()
        st = xsk.stats()
        xsk.close()

        k, w, t, i, s = k1 - k0, w1 - w0, t1 - t0, i1 - i0, s1 - s0
        busy, si, pps = (t - i) / t, s / t, k / w
        ut, stime = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
        cpu = SWITCH_CPU
        print(f"xsk-tx-floor: cpu{cpu} sent {pps:.0f} pps into the veth (sink count), "
              f"cpu{cpu} busy {100 * busy:.1f}% (softirq {100 * si:.1f}%)")
        print(f"xsk-tx-floor: {1e6 * busy / pps:.2f} us of CPU per sent packet, of which "
              f"{1e6 * si / pps:.2f} us far-side receive softirq")
        print(f"xsk-tx-floor: a forwarder on this CPU needs >= {100 * 600e3 * busy / pps:.0f}% "
              f"of a core at 600 kpps")
        print(f"xsk-tx-floor: process utime {ut:.2f} s, stime {stime:.2f} s over {w:.2f} s wall "
              f"({1e6 * ut / k:.3f} us user, {1e6 * stime / k:.3f} us sys per packet; "
              f"= {100 * (ut + stime) / (busy * w):.0f}% of cpu{cpu}'s busy time)")
        nk = res['kicks'] + res['retries']
        print(f"xsk-tx-floor: queued {res['queued']}, sink counted {k}, kicks {nk} "
              f"({res['queued'] / max(nk, 1):.1f} pkts/kick; returned 0: {res['kicks']}, "
              f"errors: {res['errs']})")
        print("xsk-tx-floor: XDP_STATISTICS " + ", ".join(f"{n} {v}" for n, v in st.items()))
    finally:
        cleanup()


if __name__ == "__main__":
    main()
