#!/usr/bin/env bash
# run-matrix.sh [OUT_DIR] -- the forwarding figures of benches/RESULTS.md: fwd-bench.sh for the
# wire (none), the Linux bridge, Debian OVS's netdev datapath, userdp (fwd-userdp.sh) and OVS on
# userdp (fwd-ovs-on-userdp.sh), back to back with the same parameters, configurations
# interleaved inside each repetition; then TCP with veth offloads off for each; then the
# markdown table (fwd-bench.sh --table).
#
#   cargo build --release --workspace
#   REPS=1 DURATION=10 contrib/bench/run-matrix.sh /tmp/userdp-bench
#
# Environment: FWD_BENCH (default /work/shared/bench/fwd-bench.sh), REPS (1), DURATION (10),
# CONFIGS (default "none bridge ovs-netdev ovs-afxdp userdp userdp-afpacket ovs-on-userdp";
# userdp-afpacket is userdp with --no-af-xdp: AF_PACKET rings both ways).
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
H=${FWD_BENCH:-/work/shared/bench/fwd-bench.sh}
OUT=${1:-$(dirname "$(mktemp -u)")/userdp-bench-$(date +%Y%m%d-%H%M%S)}
REPS=${REPS:-1}
export DURATION=${DURATION:-10}
CONFIGS=${CONFIGS:-"none bridge ovs-netdev ovs-afxdp userdp userdp-afpacket ovs-on-userdp"}
mkdir -p "$OUT"


run() {  # run REP CONFIG [ARGS...]: one harness invocation, never fatal for the matrix
    local rep=$1 cfg=$2 label sw; shift 2
    echo "=== rep $rep: $cfg $*" >&2
    case $cfg in
        userdp)        sw="cmd:$HERE/fwd-userdp.sh \$FB_S1 \$FB_S2" ;;
        userdp-afpacket) sw="cmd:USERDP_AF_XDP=0 $HERE/fwd-userdp.sh \$FB_S1 \$FB_S2" ;;
        ovs-on-userdp) sw="cmd:$HERE/fwd-ovs-on-userdp.sh \$FB_S1 \$FB_S2" ;;
        *)             sw=$cfg ;;
    esac
    label=$cfg
    [[ " $* " == *" --offloads off "* ]] && label+="+nooffload"
    # REPS is this script's: the harness would repeat every invocation that many times too.
    REPS=1 REP0=$((rep - 1)) "$H" -o "$OUT" -l "$label" "$@" "$sw" 2>>"$OUT/harness.log" ||
        echo "!!! failed: $cfg $*" | tee -a "$OUT/harness.log" >&2
}

{ date -u +%FT%TZ; uname -r; nproc; echo "loadavg before: $(cat /proc/loadavg)"; } >"$OUT/env.txt"
MON_PID=""
if command -v pidstat >/dev/null; then
    pidstat -u -h 10 >"$OUT/monitor.pidstat.txt" 2>&1 &
    MON_PID=$!
    trap '[[ -n $MON_PID ]] && kill "$MON_PID" 2>/dev/null' EXIT
fi
for rep in $(seq "$REPS"); do
    for cfg in $CONFIGS; do run "$rep" "$cfg"; done
    for cfg in $CONFIGS; do run "$rep" "$cfg" --offloads off -t tcp; done
done
echo "loadavg after: $(cat /proc/loadavg)" >>"$OUT/env.txt"
"$H" --table "$OUT/results.txt" | tee "$OUT/table.md"
echo "results: $OUT" >&2
