#!/usr/bin/env bash
# fwd-ovs-on-userdp.sh PORT1 PORT2 -- Debian's ovs-vswitchd on userdpd (issue 5's setup), for
# fwd-bench.sh:
#
#   fwd-bench.sh -l ovs-on-userdp 'cmd:/path/to/contrib/bench/fwd-ovs-on-userdp.sh $FB_S1 $FB_S2'
#
# Starts a release userdpd on a private socket, then ovsdb-server and ovs-vswitchd (the latter
# under userdp-run, so its datapath netlink goes to userdpd) in a private run directory, and
# builds a datapath_type=system bridge with PORT1 and PORT2 and the default OpenFlow NORMAL
# rule: ovs-vswitchd handles the upcalls and installs the megaflows, as with the kernel module.
# Stays in the foreground until SIGTERM/SIGINT; then removes the bridge and stops all three.
#
# All processes stay in the caller's process group, so fwd-bench.sh accounts their CPU and
# its group kill reaches them even if this script's own cleanup is cut short.
#
# The system datapath is always called ovs-system, and userdpd creates its local port as a TAP
# of that name in this network namespace: only one such setup can run per namespace.
#
# Environment:
#   USERDP_BIN      directory with userdpd, userdpctl, userdp-run, libuserdp_compat.so
#                   (default: target/release of this checkout; cargo build --release --workspace)
#   USERDP_THREADS  userdpd packet threads (default 1)
#   USERDP_LOG      userdpd log filter (default warn)
#   OVS_BR          bridge name (default fb-ubr0; br0 in issue 5, renamed to avoid clashing
#                   with other users of the root namespace)
#   OVS_SCHEMA      vswitch.ovsschema (default /usr/share/openvswitch/vswitch.ovsschema)
set -Eeuo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 PORT1 PORT2" >&2; exit 2; }
S1=$1 S2=$2
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${USERDP_BIN:-$HERE/../../target/release}
THREADS=${USERDP_THREADS:-1}
BR=${OVS_BR:-fb-ubr0}
SCHEMA=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
for b in userdpd userdpctl userdp-run libuserdp_compat.so; do
    [[ -e $BIN/$b ]] || { echo "$0: $BIN/$b missing (cargo build --release --workspace)" >&2; exit 1; }
done
if ip link show dev ovs-system >/dev/null 2>&1; then
    echo "$0: a link named ovs-system already exists (another OVS/userdp setup?)" >&2; exit 1
fi

RUN=$(mktemp -d -t fwd-ovs-userdp.XXXXXX)
SOCK=$RUN/userdp.sock
export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN USERDP_SOCKET=$SOCK
DPID="" DBPID="" VSPID=""
VSCTL=(timeout 30 ovs-vsctl --db="unix:$RUN/db.sock" --timeout=20)
log() { printf '[fwd-ovs-on-userdp %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

stop_pid() {  # stop_pid PID: TERM, wait up to 3 s, KILL
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $VSPID ]] && kill -0 "$VSPID" 2>/dev/null; then
        log "datapath flows at exit:"
        timeout 5 "$BIN/userdpctl" --socket="$SOCK" dump-flows >&2
        timeout 5 "$BIN/userdpctl" --socket="$SOCK" show -s >&2
        "${VSCTL[@]}" --if-exists del-br "$BR" >/dev/null 2>&1
        timeout 5 ovs-appctl -t "$RUN/ovs-vswitchd.ctl" exit --cleanup >/dev/null 2>&1
        for _ in $(seq 30); do kill -0 "$VSPID" 2>/dev/null || break; sleep 0.1; done
    fi
    stop_pid "$VSPID"
    [[ -n $DBPID ]] && timeout 5 ovs-appctl -t "$RUN/ovsdb-server.ctl" exit >/dev/null 2>&1
    stop_pid "$DBPID"
    stop_pid "$DPID"
    if [[ -s $RUN/ovs-vswitchd.log ]]; then
        log "ovs-vswitchd warnings:"; grep -E '\|(WARN|ERR|EMER)\|' "$RUN/ovs-vswitchd.log" | tail -20 >&2
    fi
    rm -rf "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

"$BIN/userdpd" --socket "$SOCK" --threads "$THREADS" --log "${USERDP_LOG:-warn}" &
DPID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || { log "userdpd did not create $SOCK"; exit 1; }

ovsdb-tool create "$RUN/conf.db" "$SCHEMA"
ovsdb-server "$RUN/conf.db" --remote="punix:$RUN/db.sock" --unixctl="$RUN/ovsdb-server.ctl" \
    --pidfile="$RUN/ovsdb-server.pid" --log-file="$RUN/ovsdb-server.log" --no-chdir \
    -vconsole:off &
DBPID=$!
for _ in $(seq 50); do [[ -S $RUN/db.sock ]] && break; sleep 0.1; done
[[ -S $RUN/db.sock ]] || { log "ovsdb-server did not start"; exit 1; }
"${VSCTL[@]}" --no-wait init

"$BIN/userdp-run" --socket "$SOCK" ovs-vswitchd "unix:$RUN/db.sock" \
    --unixctl="$RUN/ovs-vswitchd.ctl" --pidfile="$RUN/ovs-vswitchd.pid" \
    --log-file="$RUN/ovs-vswitchd.log" --no-chdir -vconsole:off &
VSPID=$!
for _ in $(seq 100); do [[ -S $RUN/ovs-vswitchd.ctl ]] && break; sleep 0.1; done
[[ -S $RUN/ovs-vswitchd.ctl ]] || { log "ovs-vswitchd did not start"; cat "$RUN/ovs-vswitchd.log" >&2; exit 1; }

"${VSCTL[@]}" add-br "$BR" -- set bridge "$BR" datapath_type=system \
    -- add-port "$BR" "$S1" -- add-port "$BR" "$S2"
log "userdpd $DPID, ovsdb-server $DBPID, ovs-vswitchd $VSPID; bridge $BR ($S1, $S2), NORMAL"
"${VSCTL[@]}" show >&2
"${VSCTL[@]}" --columns=name,ofport,error list Interface >&2
timeout 5 "$BIN/userdpctl" --socket="$SOCK" show >&2

# Foreground until the harness kills the session.
wait "$VSPID"
log "ovs-vswitchd exited on its own"
