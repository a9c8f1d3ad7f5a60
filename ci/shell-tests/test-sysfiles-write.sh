#!/usr/bin/env bash
# How nb-sysfiles writes (issue 11, item 2): a temporary file beside the
# target renamed over it, owner and mode kept; never through a symlink out of
# --root; CRLF and NUL files refused whole; and a kill during apply leaves
# the file wholly old or wholly new.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
chmod 755 "$t" # one check runs nb-sysfiles as nobody below it
trap 'rm -rf "$t"' EXIT
sf() { "$SUP/nb-sysfiles" "$@"; }
md5() { md5sum <"$1" | cut -d' ' -f1; }

# --- tmp + rename, owner and mode kept -----------------------------------
r=$t/own
mkdir -p "$r/etc"
printf 'vm.swappiness = 10\n' >"$r/etc/sysctl.conf"
chmod 640 "$r/etc/sysctl.conf"
[ "$(id -u)" = 0 ] && chown 1234:5678 "$r/etc/sysctl.conf"
before_owner=$(stat -c '%u:%g %a' "$r/etc/sysctl.conf")
before_ino=$(stat -c %i "$r/etc/sysctl.conf")
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "apply exits 0" 0 $rc "$out"
check_eq "apply keeps owner, group and mode" "$before_owner" "$(stat -c '%u:%g %a' "$r/etc/sysctl.conf")"
# a new inode is what a rename leaves; writing in place keeps the old one
if [ "$(stat -c %i "$r/etc/sysctl.conf")" != "$before_ino" ]; then
	pass "apply renames a new file over the old one (new inode)"
else
	fail "apply renames a new file over the old one (new inode)" "inode $before_ino unchanged: written in place"
fi
check_eq "no temporary file is left beside it" "sysctl.conf" "$(ls -A "$r/etc")"
ino=$(stat -c %i "$r/etc/sysctl.conf")
sf revert --root "$r" sysctl >/dev/null
check_eq "revert keeps owner, group and mode" "$before_owner" "$(stat -c '%u:%g %a' "$r/etc/sysctl.conf")"
check "revert renames too" test "$(stat -c %i "$r/etc/sysctl.conf")" != "$ino"
mkdir -p "$t/new/etc"
(umask 077 && sf apply --root "$t/new" sysctl >/dev/null)
check_eq "a file apply creates is 0644, whatever the umask" 644 "$(stat -c %a "$t/new/etc/sysctl.conf")"

# a directory the temporary file cannot go in: refused before any write
# (as nobody, since root may write anywhere)
r=$t/ro
mkdir -p "$r/etc"
printf 'vm.swappiness = 10\n' >"$r/etc/sysctl.conf"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	mkdir -p "$t/nobody-tmp"
	chown -R 65534:65534 "$r" "$t/nobody-tmp"
	chmod 555 "$r/etc"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env TMPDIR="$t/nobody-tmp" NB_DATA_DIR="$NB_DATA_DIR" \
		"$SUP/nb-sysfiles" apply --root "$r" sysctl 2>&1); rc=$?
	check_rc "no room for the temporary file: apply exits 1" 1 $rc "$out"
	check_has "... saying so" "$r/etc/sysctl.conf: cannot create a temporary file beside it" "$out"
	check_eq "... and the file is unchanged" "vm.swappiness = 10" "$(cat "$r/etc/sysctl.conf")"
else
	skip "no room for the temporary file" "needs root and setpriv to run as nobody"
fi

# --- symlinks out of --root -------------------------------------------------
# ROOT/etc/sysctl.conf -> an absolute path: under --root that path is the
# running system's (here a stand-in, so the test never touches /etc)
host=$t/host-etc
mkdir -p "$host"
printf 'kernel.host = 1\n' >"$host/sysctl.conf"
r=$t/link
mkdir -p "$r/etc"
ln -s "$host/sysctl.conf" "$r/etc/sysctl.conf"
for action in apply revert status; do
	out=$(sf "$action" --root "$r" sysctl 2>&1); rc=$?
	check_rc "absolute symlink at ROOT/etc/sysctl.conf: $action exits 1" 1 $rc "$out"
	check_has "... naming the link and where it points" "$r/etc/sysctl.conf is a symbolic link \(to $host/sysctl.conf\)" "$out"
done
check_eq "... and the file it points to is untouched" "kernel.host = 1" "$(cat "$host/sysctl.conf")"
check "... and the link is still a link" test -L "$r/etc/sysctl.conf"
r=$t/dirlink
mkdir -p "$r"
ln -s "$host" "$r/etc"
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "ROOT/etc a symlink out of the root: apply exits 1" 1 $rc "$out"
check_has "... naming it" "$r/etc is a symbolic link" "$out"
check_eq "... and the host's file is untouched" "kernel.host = 1" "$(cat "$host/sysctl.conf")"
check_eq "... and nothing was added beside it" "sysctl.conf" "$(ls -A "$host")"
r=$t/rel
mkdir -p "$r/etc"
ln -s "../../host-etc/sysctl.conf" "$r/etc/sysctl.conf"
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "relative symlink climbing out of the root: apply exits 1" 1 $rc "$out"
check_eq "... and the file it reaches is untouched" "kernel.host = 1" "$(cat "$host/sysctl.conf")"

# On the running system (no --root) a symlinked sysctl.conf is edited where
# it points, and stays a link.  Run in a private mount namespace with a
# copy of /etc bind-mounted over it (awk and friends may be links into
# /etc/alternatives), so the host's /etc is never written.
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
	fake=$t/fake-etc
	cp -a /etc "$fake"
	rm -f "$fake/sysctl.conf"
	mkdir -p "$fake/real"
	printf 'vm.swappiness = 10\n' >"$fake/real/sysctl.conf"
	ln -s real/sysctl.conf "$fake/sysctl.conf"
	# shellcheck disable=SC2016 # expanded by the inner sh
	out=$(unshare --mount sh -c 'mount --bind "$1" /etc || exit 99
		"$2" apply sysctl' sh "$fake" "$SUP/nb-sysfiles" 2>&1); rc=$?
	check_rc "no --root, sysctl.conf a relative symlink: apply exits 0" 0 $rc "$out"
	check "... the link is still a link" test -L "$fake/sysctl.conf"
	check "... and the file it names got the block" grep -q '^# END app-backup/netbackup-support$' "$fake/real/sysctl.conf"
else
	skip "no --root with a symlinked sysctl.conf" "needs root and unshare --mount"
fi

# --- CRLF and NUL: refused whole ------------------------------------------
r=$t/dos
mkdir -p "$r/etc"
printf '# from a DOS editor\r\nvm.swappiness = 10\r\n' >"$r/etc/sysctl.conf"
sum=$(md5 "$r/etc/sysctl.conf")
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "a CRLF file: apply exits 1" 1 $rc "$out"
check_has "... naming the file, the line and the cause" "^nb-sysfiles: $r/etc/sysctl.conf:1: ends in a carriage return \(CRLF" "$out"
check_eq "... and leaves it untouched" "$sum" "$(md5 "$r/etc/sysctl.conf")"
r=$t/nul
mkdir -p "$r/etc"
printf 'vm.swappiness = 10\nkernel.x = \0001\n' >"$r/etc/sysctl.conf"
sum=$(md5 "$r/etc/sysctl.conf")
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "a file with a NUL byte: apply exits 1" 1 $rc "$out"
check_has "... naming the file and the cause" "^nb-sysfiles: $r/etc/sysctl.conf:2: contains NUL bytes" "$out"
check_eq "... and leaves it untouched" "$sum" "$(md5 "$r/etc/sysctl.conf")"

# --- kill loop ----------------------------------------------------------------
# A 4 MB sysctl.conf; apply is killed (SIGKILL) at random points of its run:
# the file must always be the old one or the applied one, never a mix.
r=$t/kill
# A SIGKILLed run also leaves its scratch directory ($TMPDIR/nb-sysfiles.*):
# kept below $t, so the test leaves nothing in /tmp.
mkdir -p "$r/etc" "$t/kill-tmp"
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "# padding line %06d of a large sysctl.conf, kept as it is\n", i }' >"$t/big"
cp "$t/big" "$r/etc/sysctl.conf"
start=$(date +%s%N)
sf apply --root "$r" sysctl >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
old=$(md5 "$t/big")
new=$(md5 "$r/etc/sysctl.conf")
torn=0 olds=0 news=0 left=0
RANDOM=11
for _ in $(seq 1 30); do
	cp "$t/big" "$r/etc/sysctl.conf"
	TMPDIR=$t/kill-tmp "$SUP/nb-sysfiles" apply --root "$r" sysctl >/dev/null 2>&1 &
	pid=$!
	# the write comes last, so the delays cover the run's second half
	# and past its end (a run in the background is slower)
	d=$((ms / 2 + RANDOM % (ms + 1)))
	sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	case $(md5 "$r/etc/sysctl.conf") in
	"$old") olds=$((olds + 1)) ;;
	"$new") news=$((news + 1)) ;;
	*) torn=$((torn + 1)) ;;
	esac
	# a SIGKILL cannot be trapped: its temporary file may stay
	n=$(find "$r/etc" -name '.sysctl.conf.nb-sysfiles.*' | wc -l)
	left=$((left + n))
	rm -f "$r/etc"/.sysctl.conf.nb-sysfiles.*
done
echo "     kill loop: 30 kills over a ${ms} ms apply: $olds old, $news new, $torn torn; $left temporary files left by kills"
check_eq "kill loop: the file is always wholly old or wholly new" 0 "$torn"
check_eq "kill loop: no scratch directory outside \$TMPDIR" 0 "$(find /tmp -maxdepth 1 -name 'nb-sysfiles.*' -newer "$t/big" | wc -l)"

# what a kill leaves is named by the next run, and left for the admin (it
# could be a concurrent run's)
: >"$r/etc/.sysctl.conf.nb-sysfiles.AbC123"
out=$(sf status --root "$r" sysctl 2>&1); rc=$?
check_has "a temporary file left by a killed run is named" "note: $r/etc/.sysctl.conf.nb-sysfiles.AbC123 is left by an interrupted run" "$out"
check "... and not removed" test -e "$r/etc/.sysctl.conf.nb-sysfiles.AbC123"
