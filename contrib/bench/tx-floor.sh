#!/usr/bin/env bash
# tx-floor.sh -- what it costs a user-space process merely to *send* 64-byte frames into a
# veth whose far end is a namespace that drops them (fwd-bench.sh's switch-to-ns2 leg).
#
# Any user-space forwarder on fwd-bench's topology must at least transmit every forwarded
# frame into its S2 veth. veth delivers a sent frame to the peer on the *sending* CPU (the
# peer's receive softirq runs in the sender's context), so the far namespace's receive path
# is charged to the sender as well. This script measures that floor on its own: trafgen
# (C, PACKET_TX_RING, qdisc bypass, precomputed frames: the cheapest sender there is) pinned
# to SWITCH_CPU sends into S for DURATION seconds; the script reports the packets the sink
# counted, the busy and softirq share of SWITCH_CPU from /proc/stat, and the CPU time per
# sent packet. A forwarder cannot need less CPU per forwarded packet than this on the same
# CPU, whatever it does on the receive side.
#
# Usage: contrib/bench/tx-floor.sh            (root; needs trafgen, nft, ip)
# Environment: SWITCH_CPU (1), DURATION (8), PKT_LEN (60), PFX (txf)
set -Eeuo pipefail

SWITCH_CPU=${SWITCH_CPU:-1}
DURATION=${DURATION:-8}
PKT_LEN=${PKT_LEN:-60}
PFX=${PFX:-txf}
NS=$PFX-ns
S=$PFX-s
P=$PFX-p
MAC_S=02:00:00:00:0f:01
MAC_P=02:00:00:00:0f:02
IP_S=198.18.0.1
IP_P=198.18.0.2
DPORT=9
WORK=$(mktemp -d -t tx-floor.XXXXXX)

for tool in ip nft trafgen; do
    command -v "$tool" >/dev/null || { echo "$0: $tool missing" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "$0: must run as root" >&2; exit 1; }

cleanup() {
    set +e
    ip link del "$S" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d -t tx-floor.XXXXXX)

ip netns add "$NS"
ip link add "$S" address "$MAC_S" type veth peer name "$P" netns "$NS"
echo 1 >"/proc/sys/net/ipv6/conf/$S/disable_ipv6" 2>/dev/null || true
ip link set "$S" up
ip -n "$NS" link set "$P" address "$MAC_P"
ip -n "$NS" addr add "$IP_P/24" dev "$P"
ip -n "$NS" link set "$P" up
ip netns exec "$NS" nft -f - <<EOF
table netdev txfsink {
    chain in {
        type filter hook ingress device "$P" priority 0; policy accept;
        udp dport $DPORT counter drop
    }
}
EOF
sink() {
    ip netns exec "$NS" nft list chain netdev txfsink in |
        awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}
cpustat() { awk -v c="cpu$SWITCH_CPU" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i;
    print t, $5 + $6, $8 }' /proc/stat; }

# trafgen pins worker i to CPU i; with one worker per CPU and the frame bound to SWITCH_CPU
# only that worker sends.
cfg=$WORK/frame.cfg
printf 'cpu(%d): { eth(da=%s, sa=%s), ipv4(sa=%s, da=%s, ttl=64), udp(sp=1024, dp=%d), fill(0x00, %d) }\n' \
    "$SWITCH_CPU" "$MAC_P" "$MAC_S" "$IP_S" "$IP_P" "$DPORT" $((PKT_LEN - 42)) >"$cfg"

k0=$(sink); read -r t0 i0 s0 < <(cpustat); w0=$(date +%s.%N)
timeout -s INT "$DURATION" trafgen -o "$S" -c "$cfg" -P $((SWITCH_CPU + 1)) --no-sock-mem \
    --notouch-irq >"$WORK/trafgen.out" 2>&1 || true
read -r t1 i1 s1 < <(cpustat); w1=$(date +%s.%N); k1=$(sink)

awk -v k=$((k1 - k0)) -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
    -v t=$((t1 - t0)) -v i=$((i1 - i0)) -v s=$((s1 - s0)) -v cpu="$SWITCH_CPU" 'BEGIN {
    busy = (t - i) / t; si = s / t; pps = k / w
    printf "tx-floor: cpu%d sent %.0f pps into the veth (sink count), cpu%d busy %.1f%% (softirq %.1f%%)\n",
        cpu, pps, cpu, 100 * busy, 100 * si
    printf "tx-floor: %.2f us of CPU per sent packet, of which %.2f us far-side receive softirq\n",
        1e6 * busy / pps, 1e6 * si / pps
    printf "tx-floor: a forwarder on this CPU needs >= %.0f%% of a core at 600 kpps\n", 100 * 600e3 * busy / pps }'
grep -i 'usec on CPU\|error\|fail' "$WORK/trafgen.out" >&2 || true
