#!/usr/bin/env bash
# tcp-reorder.sh -- where a TCP stream through userdpd gets reordered (benches/RESULTS.md,
# "Session 3"): fwd-bench.sh's topology in miniature, one iperf3 run, and captures of the data
# segments at three points:
#
#   ns A: p1 (iperf3 client, CPU 0) =veth= S1 -- userdpd (CPU $USERDP_CPU) -- S2 =veth= p2 :ns B
#
# For each capture it prints how many segments arrived behind a later one, then iperf3's
# retransmits, the interface counters (to show nothing was lost) and the receiver's
# out-of-order count. With USERDP_CPU=0 (switch on the endpoints' CPU) nothing is reordered.
#
#   cargo build --release && contrib/bench/tcp-reorder.sh
#
# Environment: USERDP_BIN (default target/release), USERDP_CPU (1), SECONDS_TCP (6),
# SEGMENTS (segments captured at each point, 30000). Needs root, iperf3, tcpdump, python3.
# Creates namespaces trA/trB and links trS1/trS2 (198.19.0.0/24), removes them on exit.
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${USERDP_BIN:-$HERE/../../target/release}
CPU=${USERDP_CPU:-1}
T=${SECONDS_TCP:-6}
N=${SEGMENTS:-30000}
RUN=$(mktemp -d -t tcp-reorder.XXXXXX)
SOCK=$RUN/sock
DPID=""

cleanup() {
    set +e
    [[ -n $DPID ]] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
    ip netns del trA 2>/dev/null
    ip netns del trB 2>/dev/null
    ip link del trS1 2>/dev/null
    ip link del trS2 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT

ip netns add trA
ip netns add trB
ip link add trS1 type veth peer name p1 netns trA
ip link add trS2 type veth peer name p2 netns trB
ip -n trA addr add 198.19.0.1/24 dev p1
ip -n trB addr add 198.19.0.2/24 dev p2
for ns in trA trB; do ip -n "$ns" link set lo up; done
ip -n trA link set p1 up
ip -n trB link set p2 up
ip link set trS1 up
ip link set trS2 up
mac() { ip -n "$1" -br link show "$2" | awk '{print $3}'; }
ip -n trA neigh replace 198.19.0.2 lladdr "$(mac trB p2)" dev p1 nud permanent
ip -n trB neigh replace 198.19.0.1 lladdr "$(mac trA p1)" dev p2 nud permanent

taskset -c "$CPU" "$BIN/userdpd" --socket "$SOCK" --threads 1 --log warn &
DPID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
ctl() { "$BIN/userdpctl" --socket="$SOCK" "$@"; }
ctl add-dp tr0
ctl add-if tr0 trS1 trS2
ctl add-flow tr0 "in_port(1),eth(),eth_type(0x0800),ipv4()" 2
ctl add-flow tr0 "in_port(2),eth(),eth_type(0x0800),ipv4()" 1

ip netns exec trB taskset -c 0 iperf3 -s -1 -D
sleep 0.3
ip netns exec trB nstat -n
capture() {  # capture NETNS-or-"" IFACE: data segments towards the server, headers only
    local pre=()
    [[ -n $1 ]] && pre=(ip netns exec "$1")
    sleep 2
    "${pre[@]}" timeout 3 tcpdump -i "$2" -nn -s 100 -c "$N" -w "$RUN/$2.pcap" \
        'tcp dst port 5201' 2>/dev/null || true
}
capture trA p1 &
capture "" trS1 &
capture trB p2 &
ip netns exec trA taskset -c 0 iperf3 -c 198.19.0.2 -t "$T" | grep -E "sender|receiver"
wait %2 %3 %4 2>/dev/null || true

python3 - "$RUN" <<'EOF'
import struct, sys
def segments(path):
    try:
        d = open(path, 'rb').read()
    except OSError:
        return []
    le = d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
    u32 = '<I' if le else '>I'
    out, at = [], 24
    while at + 16 <= len(d):
        cap = struct.unpack(u32, d[at + 8:at + 12])[0]
        p = d[at + 16:at + 16 + cap]
        at += 16 + cap
        if len(p) < 54 or p[12:14] != b'\x08\x00':
            continue
        ihl = (p[14] & 15) * 4
        total = struct.unpack('>H', p[16:18])[0]
        t = 14 + ihl
        seq = struct.unpack('>I', p[t + 4:t + 8])[0]
        data = total - ihl - (p[t + 12] >> 4) * 4
        if data > 0:
            out.append((seq, data))
    return out
for point, name in (('p1 (sender egress)', 'p1'), ('S1 (userdp reads)', 'trS1'),
                    ('p2 (after userdp)', 'p2')):
    segs = segments(f'{sys.argv[1]}/{name}.pcap')
    behind, high = 0, None
    for seq, n in segs:
        if high is not None and (seq - high) % (1 << 32) > (1 << 31):
            behind += 1
        end = (seq + n) % (1 << 32)
        if high is None or (end - high) % (1 << 32) < (1 << 31):
            high = end
    print(f'{point:20} segments {len(segs):6}  arriving behind a later one: {behind}')
EOF
for dev in "trA p1" "- trS1" "- trS2" "trB p2"; do
    read -r ns ifc <<<"$dev"
    if [[ $ns == - ]]; then s=$(ip -s -j link show "$ifc"); else s=$(ip -n "$ns" -s -j link show "$ifc"); fi
    python3 -c "import json,sys; d=json.load(sys.stdin)[0]['stats64']; print(f\"{sys.argv[1]:6} rx {d['rx']['packets']} tx {d['tx']['packets']} dropped {d['rx']['dropped']}/{d['tx']['dropped']}\")" "$ifc" <<<"$s"
done
ip netns exec trB nstat | grep -E "TCPOFOQueue" || echo "TcpExtTCPOFOQueue 0"
