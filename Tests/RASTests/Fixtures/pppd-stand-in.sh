#!/bin/sh
# Stands in for pppd where the kernel has no PPP (no /dev/ppp): it is run by rasmand exactly
# as pppd is — same command line, password on stdin, log on stderr (logfd 2), the ip-up hook
# run with pppd's arguments and an empty environment — and talks on the data path. Extra
# options the tests give through PppdOptions: "report FILE" (what it received), "exit-with N"
# (exit like pppd with status N after authenticating), "no-auth" (no authentication line),
# "say TEXT" (TEXT on the line), "stall" (never comes up: negotiates until it is stopped or its line hangs up). With a user it sends "PAP user:password" on the line, as PAP does.
device="$1"; speed="$2"; shift 2
ipup=""; user=""; report=/dev/null; exitcode=""; auth=yes; password=""; say=""; stall=no
while [ $# -gt 0 ]; do
    case "$1" in
        ip-up-script) ipup="$2"; shift ;;
        user) user="$2"; shift ;;
        report) report="$2"; shift ;;
        exit-with) exitcode="$2"; shift ;;
        no-auth) auth=no ;;
        stall) stall=yes ;;
        say) say="$2"; shift ;;
        passwordfd) IFS= read -r password ;;
    esac
    shift
done
# LCP stand-in: a few bytes over the data path; the far end (the fake modem's loopback) echoes them.
exec 3<>"$device"
printf 'LCP-REQ' >&3
echo=$(head -c 7 <&3)
printf 'device=%s speed=%s user=%s password=%s echo=%s\n' "$device" "$speed" "$user" "$password" "$echo" > "$report"
[ -n "$user" ] && printf 'PAP %s:%s' "$user" "$password" >&3
[ -n "$say" ] && printf '%s' "$say" >&3
echo "Connect: ppp7 <--> $device" >&2
[ "$auth" = yes ] && echo "CHAP authentication succeeded" >&2
if [ -n "$exitcode" ]; then
    echo "stand-in: exiting with $exitcode" >&2
    exit "$exitcode"
fi
trap 'echo "Terminating on signal 15" >&2; exit 5' TERM
if [ "$stall" = yes ]; then
    echo "stand-in: still negotiating" >&2
    # Like pppd, it notices its line hanging up (the data path's pty closed by the daemon
    # that held it: the tty then fails every ioctl with EIO) and exits with pppd's "modem
    # hangup" code, 16.
    while stty -g <&3 >/dev/null 2>&1; do sleep 0.05; done
    echo "Modem hangup" >&2
    exit 16
fi
echo "local  IP address 10.64.0.2" >&2
env -i DNS1=10.64.0.53 DNS2=10.64.0.54 /bin/sh "$ipup" ppp7 "$device" "$speed" 10.64.0.2 10.64.0.1 ""
while :; do sleep 0.05; done
