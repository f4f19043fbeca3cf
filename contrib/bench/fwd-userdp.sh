#!/usr/bin/env bash
# fwd-userdp.sh PORT1 PORT2 -- forward between two interfaces with userdpd, for fwd-bench.sh:
#
#   fwd-bench.sh -l userdp 'cmd:/path/to/contrib/bench/fwd-userdp.sh $FB_S1 $FB_S2'
#
# Starts a release userdpd on a private socket, creates a datapath, attaches PORT1 and PORT2
# as netdev ports (AF_PACKET), and installs wildcard datapath flows forwarding everything the
# harness sends (IPv4: trafgen UDP with 1/10k flows, iperf3 TCP, ping; ARP and IPv6 as well,
# should the harness ever stop using static neighbours) from one port to the other, with
# userdpctl add-flow. No upcall handler runs, so the flows must cover all traffic: a miss is
# dropped. Then it stays in the foreground until SIGTERM/SIGINT, and removes the datapath and
# stops userdpd on the way out.
#
# CPU: fwd-bench.sh runs this under `taskset -c $FB_SWITCH_CPU`; userdpd inherits that
# affinity, so its packet thread(s) and its control thread share the one switch CPU.
#
# Environment:
#   USERDP_BIN      directory holding userdpd and userdpctl (default: target/release of the
#                   checkout this script lives in; build it first with cargo build --release)
#   USERDP_THREADS  packet threads (default 1)
#   USERDP_BUSY_POLL=1   pass --busy-poll (packet threads spin instead of sleeping)
#   USERDP_AF_XDP=0      pass --no-af-xdp (transmit through AF_PACKET rings only)
#   USERDP_LOG      userdpd log filter (default warn)
#   USERDP_DP       datapath name (default fbudp)
#   USERDP_NICE     run userdpd at this nice value (e.g. -15: wins the switch CPU from
#                   unrelated processes on a shared machine; default: unchanged)
set -Eeuo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 PORT1 PORT2" >&2; exit 2; }
S1=$1 S2=$2
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${USERDP_BIN:-$HERE/../../target/release}
THREADS=${USERDP_THREADS:-1}
DP=${USERDP_DP:-fbudp}
for b in userdpd userdpctl; do
    [[ -x $BIN/$b ]] || { echo "$0: $BIN/$b missing (cargo build --release)" >&2; exit 1; }
done

RUN=$(mktemp -d -t fwd-userdp.XXXXXX)
SOCK=$RUN/userdp.sock
DPID=""
ctl() { timeout 10 "$BIN/userdpctl" --socket="$SOCK" "$@"; }
log() { printf '[fwd-userdp %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $DPID ]] && kill -0 "$DPID" 2>/dev/null; then
        log "final counters:"; ctl show -s "$DP" >&2
        ctl dump-flows "$DP" >&2
        ctl del-dp "$DP" >/dev/null 2>&1
        kill -TERM "$DPID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    rm -rf "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

busy=()
[[ ${USERDP_BUSY_POLL:-0} == 1 ]] && busy=(--busy-poll)
[[ ${USERDP_AF_XDP:-1} == 0 ]] && busy+=(--no-af-xdp)
nice=()
if [[ -n ${USERDP_NICE:-} ]]; then
    nice=(nice -n "$USERDP_NICE")
    # With sched_autogroup every session competes as one unit, whatever its nice values:
    # fwd-bench.sh gives us our own session, so its autogroup's nice is what counts.
    echo "$USERDP_NICE" >/proc/self/autogroup 2>/dev/null || log "cannot set the autogroup nice"
fi
"${nice[@]}" "$BIN/userdpd" --socket "$SOCK" --threads "$THREADS" --log "${USERDP_LOG:-warn}" "${busy[@]}" &
DPID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || { log "userdpd did not create $SOCK"; exit 1; }

ctl add-dp "$DP"
ctl add-if "$DP" "$S1" "$S2"
# Port numbers as the datapath assigned them ("  port 1: fb-s1").
portno() { ctl show "$DP" | awk -v n="$1" '$1 == "port" && $3 == n { sub(":", "", $2); print $2 }'; }
P1=$(portno "$S1") P2=$(portno "$S2")
[[ -n $P1 && -n $P2 ]] || { log "ports not found in: $(ctl show "$DP")"; exit 1; }

# Megaflows: in_port exact, Ethernet addresses and every L3/L4 field wildcarded.
for dir in "$P1 $P2" "$P2 $P1"; do
    read -r from to <<<"$dir"
    ctl add-flow "$DP" "in_port($from),eth(),eth_type(0x0800),ipv4()" "$to"
    ctl add-flow "$DP" "in_port($from),eth(),eth_type(0x0806),arp()" "$to"
    ctl add-flow "$DP" "in_port($from),eth(),eth_type(0x86dd),ipv6()" "$to"
done
log "userdpd pid $DPID (threads $THREADS${busy:+, busy poll}${nice:+, nice $USERDP_NICE}), socket $SOCK, datapath $DP: $S1=port $P1, $S2=port $P2"
ctl show "$DP" >&2
ctl dump-flows "$DP" >&2

# Foreground until the harness kills the session; `wait` returns on a trapped signal.
wait "$DPID"
log "userdpd exited on its own"
