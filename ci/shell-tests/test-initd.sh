#!/usr/bin/env bash
# netbackup.initd under the real openrc-run, against a temporary NetBackup
# tree of stub daemons: start, status, stop; a daemon that does not start or
# stop makes it fail naming that daemon; status notices a dead daemon.
# nb-devlinks.initd and the baselayout-1 way (the script sourced into bash
# with runscript's functions) are exercised too.
#
# openrc-run wants /run/openrc with softlevel, as on a system OpenRC booted.
# The test re-runs itself in a private mount namespace with a tmpfs on /run,
# so the host's /run (and any real OpenRC state) is never touched.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

if [ -z "${NB_IN_NS:-}" ]; then
	if ! command -v openrc-run >/dev/null 2>&1; then
		skip "netbackup.initd under openrc-run" "openrc-run not installed (Debian package openrc)"
		exit 0
	fi
	if [ "$(id -u)" != 0 ] || ! unshare --mount true 2>/dev/null; then
		skip "netbackup.initd under openrc-run" "needs root and unshare --mount for a private /run"
		exit 0
	fi
	NB_IN_NS=1 exec unshare --mount bash "$0" "$@"
fi
mount -t tmpfs nb-test-run /run || { fail "mount a private tmpfs on /run"; exit 0; }
mkdir -p /run/openrc
(cd /run/openrc && mkdir daemons exclusive failed hotplugged inactive options \
	scheduled started starting stopping tmp wasinactive && : >softlevel)

t=$(mktemp -d)
chmod 755 "$t"
nb=$t/openv
log=$t/log
pids=$t/pids
# every process started from this test's tree, by pid
ours() { ps -eo pid=,args= | awk -v t="$t/" 'index($2, t) == 1 { print $1 }'; }
cleanup() {
	# shellcheck disable=SC2046 # one pid per word
	kill $(ours) 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
mkdir -p "$nb/netbackup/bin/admincmd" "$nb/volmgr/bin" "$nb/nbar/bin" "$t/procs" \
	"$pids" "$t/fail" "$t/etc/init.d" "$t/etc/conf.d"

# Stub daemons: $t/procs/NAME is a symlink to sleep, so ps shows a process
# whose program is called NAME, as for the real daemon.  spawn logs the
# name, starts it detached and records its pid; reap stops it.
sleep_bin=$(command -v sleep)
for n in ltid vmd avrd tldd bprd bpdbm nbdbd visd; do
	ln -s "$sleep_bin" "$t/procs/$n"
done
ln -s "$sleep_bin" "$nb/nbar/bin/nbarsvc"
cat >"$t/stublib" <<STUB
T=$t
STUB
cat >>"$t/stublib" <<'STUB'
echo "${0##*/} $*" >>"$T/log"
spawn() {
	[ -e "$T/fail/$1" ] && return 0
	# like the real start programs: no second copy of a running daemon
	[ -f "$T/pids/$1" ] && kill -0 "$(cat "$T/pids/$1")" 2>/dev/null && return 0
	if [ "$1" = nbarsvc ]; then p=${NBAR:?}; else p=$T/procs/$1; fi
	nohup "$p" 3600 >/dev/null 2>&1 </dev/null &
	echo $! >"$T/pids/$1"
}
reap() {
	[ -e "$T/fail/stop-$1" ] && return 0
	[ -f "$T/pids/$1" ] && kill "$(cat "$T/pids/$1")" 2>/dev/null
	rm -f "$T/pids/$1"
}
STUB
stub() { # stub PATH BODY
	printf '#!/bin/sh\n. %s\n%s\n' "$t/stublib" "$2" >"$1"
	chmod 755 "$1"
}
stub "$nb/volmgr/bin/ltid" 'spawn ltid; spawn vmd; spawn avrd; spawn tldd; echo "ltid: Media Manager up"'
stub "$nb/volmgr/bin/stopltid" 'reap ltid; reap avrd; reap tldd'
stub "$nb/volmgr/bin/vmctrldbm" 'reap vmd'
# bpdbm brings nbdbd up a moment later, so the wait for it is exercised
stub "$nb/netbackup/bin/initbprd" 'spawn bprd; spawn bpdbm; (sleep 1; spawn nbdbd) >/dev/null 2>&1 &'
stub "$nb/netbackup/bin/admincmd/bprdreq" 'reap bprd'
stub "$nb/netbackup/bin/bpdbm" 'reap bpdbm'
stub "$nb/netbackup/bin/admincmd/nbdbstop" 'reap nbdbd'
: >"$nb/netbackup/bin/nbdbd"
stub "$nb/netbackup/bin/initvisd" 'spawn visd'
stub "$nb/netbackup/bin/visd" 'reap visd'
# shellcheck disable=SC2016 # expanded by the stub, not here
stub "$nb/nbar/bin/nbar" "NBAR=$nb/nbar/bin/nbarsvc"'
case $1 in start) spawn nbarsvc ;; stop) reap nbarsvc ;; esac'

svc=$t/etc/init.d/netbackup
cp "$SUP/netbackup.initd" "$svc"
chmod 755 "$svc"
cat >"$t/etc/conf.d/netbackup" <<CONF
NB_ROOT="$nb"
NB_BPPS="$SUP/bpps"
NB_VMPS="$SUP/vmps"
NB_START_WAIT="5"
NB_STOP_WAIT="5"
NB_NBDBD_WAIT="5"
NB_START_LOG="$t/start.log"
CONF

# The shebang is the era's /sbin/runscript, which today's OpenRC no longer
# ships, so openrc-run is named explicitly here (the shebang itself is
# tested further down); --nodeps because no "net" service exists here.
rc_run() { (cd / && openrc-run "$svc" --nodeps "$@" 2>&1); }
# the daemons of this test's tree that bpps -a sees, by name
running() { "$SUP/bpps" -a | awk -v t="$t/" 'index($4, t) == 1 {c = $4; sub(/.*\//, "", c); print c}' | LC_ALL=C sort | tr '\n' ' '; }

out=$(rc_run start); rc=$?
check_rc "openrc-run start exits 0" 0 $rc "$out"
check_eq "start ran ltid, initbprd, nbar start, initvisd in the HOWTO's order" \
	"ltid 
initbprd 
nbar start
initvisd " "$(cat "$log")"
check_eq "all stub daemons run after start (bpps -a sees them)" \
	"avrd bpdbm bprd ltid nbarsvc nbdbd tldd visd vmd " "$(running)"
check "the start commands' output goes to NB_START_LOG" grep -qx "ltid: Media Manager up" "$t/start.log"
check_has "start output names the daemons it starts" "Starting Media Manager daemons \($nb/volmgr/bin/ltid\)" "$out"
out=$(rc_run status); rc=$?
check_rc "status after start exits 0" 0 $rc "$out"
check_has "status says started" "status: started" "$out"

: >"$log"
out=$(rc_run start); rc=$?
check_rc "a second start exits 0" 0 $rc "$out"
check_has "... OpenRC says it is already started" "already been started" "$out"
check_eq "... and runs nothing" "" "$(cat "$log")"

out=$(rc_run stop); rc=$?
check_rc "openrc-run stop exits 0" 0 $rc "$out"
check_eq "stop ran the HOWTO's stop commands in order" \
	"bprdreq -terminate
bpdbm -terminate
stopltid 
vmctrldbm -t
nbar stop
visd -terminate
nbdbstop " "$(cat "$log")"
check_eq "no stub daemon runs after stop" "" "$(running)"
out=$(rc_run status); rc=$?
check_rc "status after stop exits 3 (stopped)" 3 $rc "$out"

# a daemon that does not start: non-zero, and it is named
: >"$log"
: >"$t/fail/bpdbm"
out=$(rc_run start); rc=$?
check_rc "start with bpdbm failing exits non-zero" 1 $rc "$out"
check_has "... and names bpdbm" "not running after $nb/netbackup/bin/initbprd \(exit 0; output in $t/start.log\): bpdbm$" "$out"
check_has "... in the summary too" "NetBackup daemons not started: bpdbm" "$out"
check_lacks "... and does not blame bprd" "not started:.*bprd" "$out"
out=$(rc_run status); rc=$?
# openrc 0.45 leaves a failed service "starting" (8) outside a real boot,
# elsewhere "stopped" (3): either way not started
if [ $rc -ne 0 ]; then
	pass "OpenRC does not record the failed start as started (status $rc)"
else
	fail "OpenRC does not record the failed start as started" "$out"
fi
(cd / && openrc-run "$svc" zap >/dev/null 2>&1)
# start again once bpdbm works: the running daemons are kept, the missing
# one is started
rm -f "$t/fail/bpdbm"
: >"$log"
out=$(rc_run start); rc=$?
check_rc "retrying start after the failure exits 0" 0 $rc "$out"
check_has "... keeping the ltid that runs" "ltid\) is already running" "$out"
check_eq "... and starting only what was missing" "initbprd " "$(grep -v '^nbar\|^initvisd' "$log")"

# status notices a daemon that died
kill "$(cat "$pids/bprd")"
sleep 0.3
out=$(rc_run status); rc=$?
check_rc "status with bprd dead exits 32 (crashed)" 32 $rc "$out"
check_has "... naming bprd" "not running: bprd" "$out"

# a daemon that does not stop: non-zero, and it is named
: >"$t/fail/stop-vmd"
out=$(rc_run stop); rc=$?
check_rc "stop with vmd refusing to stop exits non-zero" 1 $rc "$out"
check_has "... and names vmd" "vmd still running after $nb/volmgr/bin/vmctrldbm" "$out"
check_has "... in the summary too" "NetBackup daemons still running: vmd" "$out"
rm -f "$t/fail/stop-vmd"
kill "$(cat "$pids/vmd")" 2>/dev/null
rm -f "$pids/vmd"
sleep 0.3
check_eq "the other daemons were stopped anyway" "" "$(running)"
(cd / && openrc-run "$svc" zap >/dev/null 2>&1)

# ltid missing: the message names the file
mv "$nb/volmgr/bin/ltid" "$t/ltid.away"
out=$(rc_run start); rc=$?
check_rc "start without ltid exits non-zero" 1 $rc "$out"
check_has "... naming the missing ltid" "Media Manager daemons not started: $nb/volmgr/bin/ltid is missing" "$out"
mv "$t/ltid.away" "$nb/volmgr/bin/ltid"
rc_run stop >/dev/null; (cd / && openrc-run "$svc" zap >/dev/null 2>&1)
for p in "$pids"/*; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; rm -f "$p"; done

# a wrong NB_ROOT is named
cp "$t/etc/conf.d/netbackup" "$t/conf.good"
echo "NB_ROOT=\"$t/no-netbackup\"" >>"$t/etc/conf.d/netbackup"
out=$(rc_run start); rc=$?
check_rc "start with a bad NB_ROOT exits non-zero" 1 $rc "$out"
check_has "... naming it" "NB_ROOT=$t/no-netbackup .* has no netbackup/bin" "$out"
# NetBackup root found in /opt/openv when NB_ROOT is unset (a private
# tmpfs on /opt in this namespace); skipped when /usr/openv exists, as that
# one would win
grep -v '^NB_ROOT=' "$t/conf.good" >"$t/etc/conf.d/netbackup"
if [ -e /usr/openv ]; then
	skip "NetBackup root detected in /opt/openv" "/usr/openv exists on this machine"
elif mkdir -p /opt && mount -t tmpfs nb-test-opt /opt; then
	cp -a "$nb" /opt/openv
	: >"$log"
	out=$(rc_run start); rc=$?
	check_rc "start with NB_ROOT unset finds /opt/openv" 0 $rc "$out"
	check_has "... and starts ltid from there" "Starting Media Manager daemons \(/opt/openv/volmgr/bin/ltid\)" "$out"
	out=$(rc_run stop); rc=$?
	check_rc "... and stops again" 0 $rc "$out"
	umount /opt
else
	skip "NetBackup root detected in /opt/openv" "cannot mount a tmpfs on /opt"
fi
cp "$t/conf.good" "$t/etc/conf.d/netbackup"

check_has "depend() declares need net, use xinetd, after nb-devlinks" \
	"need net.*use xinetd.*after nb-devlinks" "$(sed -n '/^depend()/,/^}/p' "$svc" | tr '\n' ' ')"

# The script as shipped, run through its own #!/sbin/runscript: today's
# OpenRC dropped that name, so an overlay on /sbin in this namespace adds
# runscript -> openrc-run (what OpenRC used to install) for the test.
sbin=$(cd -P /sbin && pwd -P)
ov=$t/overlay
mkdir -p "$ov/up" "$ov/work"
ln -s "$(command -v openrc-run)" "$ov/up/runscript"
mounted=no
if [ -e /sbin/runscript ]; then
	overlaid=yes # this system still has it: use it as is
elif mount -t overlay nb-test-sbin -o "lowerdir=$sbin,upperdir=$ov/up,workdir=$ov/work" "$sbin" 2>/dev/null; then
	overlaid=yes
	mounted=yes
else
	skip "shebang #!/sbin/runscript under openrc-run" "cannot overlay $sbin to add runscript"
	overlaid=no
fi
if [ "$overlaid" = yes ]; then
	out=$(cd / && "$svc" --nodeps start 2>&1); rc=$?
	check_rc "run through its #!/sbin/runscript shebang: start exits 0" 0 $rc "$out"
	check_eq "... and all daemons run" "avrd bpdbm bprd ltid nbarsvc nbdbd tldd visd vmd " "$(running)"
	out=$(cd / && "$svc" status 2>&1); rc=$?
	check_rc "... status exits 0" 0 $rc "$out"
	out=$(cd / && "$svc" --nodeps stop 2>&1); rc=$?
	check_rc "... stop exits 0" 0 $rc "$out"
	check_eq "... and none runs after it" "" "$(running)"
fi
[ "$mounted" = yes ] && umount "$sbin"

# baselayout 1: runscript.sh sourced the script into bash and called start
# and stop; its helper functions are stood in for here.
bl1() {
	bash -c '
		ebegin() { echo " * $*..."; }
		eend() { r=$1; shift; [ "$r" = 0 ] || echo " * $*"; return "$r"; }
		einfo() { echo " * $*"; }
		ewarn() { echo " * $*"; }
		eerror() { echo " * $*"; }
		. "$1"; . "$2"; "$3"' bl1 "$t/etc/conf.d/netbackup" "$svc" "$1" 2>&1
}
out=$(bl1 start); rc=$?
check_rc "baselayout-1 style (bash, sourced) start exits 0" 0 $rc "$out"
check_eq "... and all daemons run" "avrd bpdbm bprd ltid nbarsvc nbdbd tldd visd vmd " "$(running)"
out=$(bl1 stop); rc=$?
check_rc "baselayout-1 style stop exits 0" 0 $rc "$out"
check_eq "... and none runs after it" "" "$(running)"

# nb-devlinks.initd: on devfs it runs nb-devlinks; elsewhere it only says so
dsvc=$t/etc/init.d/nb-devlinks
cp "$SUP/nb-devlinks.initd" "$dsvc"
chmod 755 "$dsvc"
# shellcheck disable=SC2016 # expanded by the stub, not here
stub "$t/fake-nb-devlinks" 'echo "$*" >"$T/devlinks.args"; exit ${FAKE_RC:-0}'
printf 'NB_DEVLINKS="%s"\n' "$t/fake-nb-devlinks" >"$t/etc/conf.d/nb-devlinks"
out=$(cd / && openrc-run "$dsvc" --nodeps start 2>&1); rc=$?
check_rc "nb-devlinks service on a non-devfs /dev exits 0" 0 $rc "$out"
check_has "... and points at udev rules" "not devfs: NetBackup device names come from udev rules" "$out"
check "... without running nb-devlinks" test ! -e "$t/devlinks.args"
(cd / && openrc-run "$dsvc" zap >/dev/null 2>&1)
printf 'NB_DEVLINKS="%s"\nNB_DEVLINKS_MODE=devfs\nNB_DEVLINKS_OPTS="--input %s"\n' \
	"$t/fake-nb-devlinks" "$FIX/howto-proc-scsi.txt" >"$t/etc/conf.d/nb-devlinks"
out=$(cd / && openrc-run "$dsvc" --nodeps start 2>&1); rc=$?
check_rc "nb-devlinks service in devfs mode exits 0" 0 $rc "$out"
check_eq "... running nb-devlinks --mode devfs with the conf.d options" \
	"--mode devfs --input $FIX/howto-proc-scsi.txt" "$(cat "$t/devlinks.args" 2>/dev/null)"
check_has "nb-devlinks.initd orders itself before netbackup" "before netbackup" "$(cat "$dsvc")"
