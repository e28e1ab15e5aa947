#!/usr/bin/env bash
# dial side by side: chat (ppp), wvdial and rasdial through a running rasmand dial the same
# fake modem, alternately; then the in-process dial overhead and hang-up times (dial-bench).
#
#   bash Benchmarks/dial-side-by-side.sh [--runs N]      (default 10 runs of each; ~3 minutes)
#
# Run it on a quiet machine: a build or test running beside it skews every figure.
# It installs chat (package ppp) and wvdial with apt-get when they are missing (sudo when
# not root), builds fakemodem, rasmand, rasdial and dial-bench (release), starts one
# fakemodem (one pty; every number answers CONNECT 115200 after 0.20 s) and one rasmand
# (default timings, no discovery, its own socket and lock folder) in a temporary folder,
# and removes all of it on exit, Ctrl-C included.
#
# Every tool sends ATZ, swift-ras's default init string and ATDT5551234:
#   chat      a chat script (TIMEOUT, ABORT strings, then the three commands);
#   wvdial    Init1/Init2 and Phone in a private config; stopped once it prints CONNECT;
#   rasdial   a phonebook entry with InitString; hung up after each run (untimed).
# What is timed, and the reset between runs, are described in
# Benchmarks/DialBench/SideBySide.swift.
set -euo pipefail

runs=10
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "dial-side-by-side: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$runs" in ''|*[!0-9]*|0) echo "dial-side-by-side: --runs takes a positive number" >&2; exit 2 ;; esac

# swift-ras's default init string: RasDialSettings.defaultInitString (Sources/RAS/RasDial.swift),
# what rasmand sends for an entry without InitString. Written literally into all three
# configurations; the fake modem's transcript shows what each tool actually sent.
INIT='ATE0 Q0 V1 X4 &C1 &D2 S0=0'
NUMBER=5551234

cd "$(dirname "$0")/.."
root=$(pwd)

# --- chat and wvdial -------------------------------------------------------------------
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
install_missing() { # package program...
    local package=$1; shift
    for program in "$@"; do
        if command -v "$program" > /dev/null 2>&1 || [ -x "/usr/sbin/$program" ] || [ -x "/usr/bin/$program" ]; then
            return 0
        fi
    done
    echo "== installing $package (apt-get install -y $package)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y "$package" > /dev/null ||
        { $sudo apt-get update > /dev/null && $sudo apt-get install -y "$package" > /dev/null; }
}
find_program() { # name
    command -v "$1" 2> /dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } ||
        { [ -x "/usr/bin/$1" ] && echo "/usr/bin/$1"; } || { echo "dial-side-by-side: $1 not found" >&2; exit 1; }
}
install_missing ppp chat
install_missing wvdial wvdial
chat=$(find_program chat)
wvdial=$(find_program wvdial)

# --- a temporary folder, cleaned up on exit ---------------------------------------------
work=$(mktemp -d /tmp/dial-side-by-side.XXXXXX)
modem="$work/dialbench-modem"
fakemodem_pid=""
rasmand_pid=""
bench_pid=""
stop_pid() { # pid: SIGTERM, up to 5 s, then SIGKILL
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2> /dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}
cleanup() {
    # Nothing cuts the clean-up short: not a second Ctrl-C, nor the terminal going away.
    trap '' INT TERM HUP PIPE
    trap - EXIT
    if [ -n "$bench_pid" ]; then
        # dial-bench's own children (a chat, wvdial or rasdial run in flight) first: they
        # have their own process groups and outlive it otherwise.
        for child in $(pgrep -P "$bench_pid" || true); do stop_pid "$child"; done
        stop_pid "$bench_pid"
    fi
    stop_pid "$rasmand_pid"   # hangs up whatever it still holds
    stop_pid "$fakemodem_pid" # removes its link
    # wvdial's UUCP lock, should a killed wvdial have left it.
    lock="/var/lock/LCK..$(basename "$modem")"
    if [ -f "$lock" ] && ! kill -0 "$(tr -dc 0-9 < "$lock")" 2> /dev/null; then rm -f "$lock"; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- build -----------------------------------------------------------------------------
echo "== swift build -c release (fakemodem, rasmand, rasdial, dial-bench)"
for product in fakemodem rasmand rasdial dial-bench; do
    if ! swift build -c release --product "$product" > "$work/build.log" 2>&1; then
        tail -40 "$work/build.log" >&2
        echo "dial-side-by-side: building $product failed" >&2
        exit 1
    fi
done
bin=$(swift build -c release --show-bin-path)

# --- the fake modem and rasmand --------------------------------------------------------
wait_ready() { # file pid what
    for _ in $(seq 100); do
        grep -q '^ready ' "$1" 2> /dev/null && return 0
        kill -0 "$2" 2> /dev/null || { echo "dial-side-by-side: $3 exited:" >&2; cat "$1" "$1.err" >&2 || true; exit 1; }
        sleep 0.1
    done
    echo "dial-side-by-side: $3 not ready after 10 s" >&2
    exit 1
}

cat > "$work/scenario.yaml" << EOF
description: dial side by side - every number answers CONNECT 115200 after 0.20 s
otherwise:
  connect: CONNECT 115200
  delay: 0.2
EOF
"$bin/fakemodem" --link "$modem" --scenario "$work/scenario.yaml" --transcript "$work/transcript.log" \
    > "$work/fakemodem.out" 2> "$work/fakemodem.out.err" &
fakemodem_pid=$!
wait_ready "$work/fakemodem.out" "$fakemodem_pid" fakemodem

mkdir -p "$work/locks"
"$bin/rasmand" --no-discovery --socket "$work/rasmand.sock" --lock-dir "$work/locks" \
    > "$work/rasmand.out" 2> "$work/rasmand.out.err" &
rasmand_pid=$!
wait_ready "$work/rasmand.out" "$rasmand_pid" rasmand

# --- the three configurations ----------------------------------------------------------
cat > "$work/bench.chat" << EOF
TIMEOUT 10
ABORT BUSY
ABORT 'NO CARRIER'
ABORT ERROR
ABORT 'NO DIALTONE'
'' ATZ
OK '$INIT'
OK ATDT$NUMBER
CONNECT
EOF
cat > "$work/wvdial.conf" << EOF
[Dialer Bench]
Modem = $modem
Baud = 115200
Modem Type = Analog Modem
Init1 = ATZ
Init2 = $INIT
Dial Command = ATDT
Phone = $NUMBER
Username = bench
Password = bench
Auto Reconnect = off
PPPD Path = /bin/true
EOF
cat > "$work/rasphone.pbk" << EOF
[Bench]
MEDIA=serial
Port=$modem
DEVICE=modem
PhoneNumber=$NUMBER
InitString=$INIT
EOF

started=$SECONDS
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo '?')," \
    "$(nproc) cores; chat: $(dpkg-query -W -f '${Version}' ppp 2> /dev/null || echo '?')," \
    "wvdial: $(dpkg-query -W -f '${Version}' wvdial 2> /dev/null || echo '?')"
echo "== init string: $INIT; number: $NUMBER"
echo

"$bin/dial-bench" --side-by-side --runs "$runs" --modem "$modem" --transcript "$work/transcript.log" \
    --chat "$chat" --chat-script "$work/bench.chat" --wvdial "$wvdial" --wvdial-config "$work/wvdial.conf" \
    --rasdial "$bin/rasdial" --socket "$work/rasmand.sock" --phonebook "$work/rasphone.pbk" --entry Bench &
bench_pid=$!
wait "$bench_pid"
bench_pid=""

# The daemon and the peers' modem are done with; the in-process part has its own modems.
stop_pid "$rasmand_pid"; rasmand_pid=""
stop_pid "$fakemodem_pid"; fakemodem_pid=""

echo
echo "== in process: ConnectionManager.dial → Connected, hangUp → ERROR_INVALID_HANDLE (dial-bench --runs $runs --s12 10)"
"$bin/dial-bench" --runs "$runs" --s12 10 &
bench_pid=$!
wait "$bench_pid"
bench_pid=""
echo
echo "== done in $((SECONDS - started)) s (build and installs not counted)"
