#!/usr/bin/env bash
# nb-sysfiles never removes a line it did not write (issue 11, item 1): a
# block whose markers were damaged, or a line of the user's that looks like
# a marker, stops apply, revert and status with a message naming FILE:LINE
# and the repair, exit 1, and the file is left byte for byte as it was.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sf() { "$SUP/nb-sysfiles" "$@"; }
END_LINE='# END app-backup/netbackup-support'

# fresh NAME: a root whose sysctl.conf has two lines of the user's and the
# applied block; prints the root
fresh() {
	local r=$t/$1
	mkdir -p "$r/etc"
	printf '# my settings\nvm.swappiness = 10\n' >"$r/etc/sysctl.conf"
	sf apply --root "$r" sysctl >/dev/null || fail "$1: setup apply failed"
	printf '%s\n' "$r"
}

# refused NAME ROOT LINE: apply, revert and status each exit 1, name
# ROOT/etc/sysctl.conf:LINE and a repair, and leave the file as it was
refused() {
	local name=$1 r=$2 line=$3 f=$2/etc/sysctl.conf before action out rc
	before=$(md5sum <"$f")
	for action in apply revert status; do
		out=$(sf "$action" --root "$r" sysctl 2>&1); rc=$?
		check_rc "$name: $action exits 1" 1 $rc "$out"
		check_has "$name: $action names the file and line $line" "^nb-sysfiles: $f:$line: " "$out"
		check_has "$name: $action says how to repair it" "[Tt]o repair" "$out"
		check_eq "$name: $action leaves the file untouched" "$before" "$(md5sum <"$f")"
	done
}

# The issue's reproduction: END deleted, a line appended, apply again.
r=$(fresh noend)
f=$r/etc/sysctl.conf
begin=$(grep -n '^# BEGIN app-backup/netbackup-support' "$f" | cut -d: -f1)
grep -vx "$END_LINE" "$f" >"$t/x" && cat "$t/x" >"$f"
printf 'net.ipv4.ip_forward = 1\n' >>"$f"
out=$(sf apply --root "$r" sysctl 2>&1); rc=$?
check_rc "issue 11 case: apply after END was deleted exits 1" 1 $rc "$out"
check "issue 11 case: the appended line is still there" grep -qx 'net.ipv4.ip_forward = 1' "$f"
refused "END deleted" "$r" "$begin"

r=$(fresh endspace)
f=$r/etc/sysctl.conf
n=$(grep -nx "$END_LINE" "$f" | cut -d: -f1)
sed -i "${n}s/\$/ /" "$f"
printf 'net.ipv4.ip_forward = 1\n' >>"$f"
refused "END with a trailing space" "$r" "$n"

r=$(fresh crlf)
f=$r/etc/sysctl.conf
sed -i 's/$/\r/' "$f"
out=$(sf apply --root "$r" sysctl 2>&1)
refused "file converted to CRLF after apply" "$r" 1
check_has "CRLF: the message says what is wrong" "CRLF|carriage return" "$out"

r=$(fresh begin2)
f=$r/etc/sysctl.conf
first=$(grep -n '^# BEGIN app-backup/netbackup-support' "$f" | cut -d: -f1)
sed -n '/^# BEGIN app-backup/,/^# END app-backup/p' "$f" >"$t/block"
printf 'kernel.panic = 5\n' >>"$f"
cat "$t/block" >>"$f"
second=$(grep -n '^# BEGIN app-backup/netbackup-support' "$f" | tail -n 1 | cut -d: -f1)
refused "a second BEGIN..END block" "$r" "$second"
out=$(sf revert --root "$r" sysctl 2>&1)
check_has "second BEGIN: the message names the first BEGIN too" "line $first" "$out"

# a user line that begins like the BEGIN marker, in a file nb-sysfiles never
# touched: the old code took it for its block and dropped the rest
r=$t/lookalike
mkdir -p "$r/etc"
printf '# BEGIN app-backup/netbackup-support tuning, kept by hand\nkernel.panic = 5\nvm.swappiness = 10\n' >"$r/etc/sysctl.conf"
refused "a user line that begins like the BEGIN marker" "$r" 1

r=$(fresh nobegin)
f=$r/etc/sysctl.conf
sed -i '/^# BEGIN app-backup\/netbackup-support/d' "$f"
n=$(grep -nx "$END_LINE" "$f" | cut -d: -f1)
refused "an END without BEGIN" "$r" "$n"

# a line the user put inside the block would be lost by apply or revert
r=$(fresh inside)
f=$r/etc/sysctl.conf
n=$(grep -n '^kernel.shmmni' "$f" | cut -d: -f1)
sed -i "${n}a net.ipv4.ip_forward = 1" "$f"
begin=$(grep -n '^# BEGIN app-backup/netbackup-support' "$f" | cut -d: -f1)
refused "a user line inside the block" "$r" "$begin"

# markers written by the version before checksums (no [cksum ...]) still
# revert, and byte for byte
r=$t/legacy
mkdir -p "$r/etc"
printf 'vm.swappiness = 10\n' >"$r/etc/sysctl.conf"
cp "$r/etc/sysctl.conf" "$t/legacy.orig"
printf "%s\nkernel.shmmni = 220\n%s\n" "# BEGIN app-backup/netbackup-support: added by nb-sysfiles, remove with 'nb-sysfiles revert'" "$END_LINE" >>"$r/etc/sysctl.conf"
out=$(sf revert --root "$r" sysctl 2>&1); rc=$?
check_rc "a block without checksum (older nb-sysfiles) reverts, exit 0" 0 $rc "$out"
check "... to the file as it was" cmp "$t/legacy.orig" "$r/etc/sysctl.conf"

# lines the user adds after the block are kept by revert, final newline and
# all, also when apply had to add a newline the file lacked
r=$t/after
mkdir -p "$r/etc"
printf 'a = 1\nb = 2' >"$r/etc/sysctl.conf"
sf apply --root "$r" sysctl >/dev/null
printf 'c = 3\n' >>"$r/etc/sysctl.conf"
out=$(sf revert --root "$r" sysctl 2>&1); rc=$?
check_rc "revert with user lines after a [noeol] block exits 0" 0 $rc "$out"
check_eq "... and keeps them, with their final newline" "$(printf 'a = 1\nb = 2\nc = 3\n' | od -c)" "$(od -c <"$r/etc/sysctl.conf")"
sf apply --root "$r" sysctl >/dev/null
printf 'd = 4' >>"$r/etc/sysctl.conf"
sf revert --root "$r" sysctl >/dev/null
check_eq "a last line without newline after the block stays without one" "$(printf 'a = 1\nb = 2\nc = 3\nd = 4' | od -c)" "$(od -c <"$r/etc/sysctl.conf")"
