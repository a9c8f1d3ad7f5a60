#!/usr/bin/env bash
# nb-sysfiles on copies of system files in a temporary root: apply twice ==
# apply once, revert == original byte for byte, status, --dry-run, files that
# are missing, entries that are already there, error paths.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
r=$t/root
mkdir -p "$r/etc/modules.autoload.d"
# This machine's own files where it has them; a baselayout-1 style stand-in
# where it does not (Debian has no hosts.allow without tcpd, and no
# modules.autoload.d).
for f in sysctl.conf services hosts.allow; do
	if [ -f "/etc/$f" ]; then
		cp -p "/etc/$f" "$r/etc/$f"
	fi
done
[ -f "$r/etc/hosts.allow" ] || printf '# /etc/hosts.allow\nALL: LOCAL\n' >"$r/etc/hosts.allow"
[ -f "$r/etc/sysctl.conf" ] || printf '# /etc/sysctl.conf\nnet.ipv4.ip_forward = 0\n' >"$r/etc/sysctl.conf"
[ -f "$r/etc/services" ] || printf 'ssh\t\t22/tcp\nssh\t\t22/udp\n' >"$r/etc/services"
# kernel-2.6 as baselayout 1 shipped it, but without a final newline; no
# kernel-2.4 at all, so apply creates it and revert must remove it
printf '# /etc/modules.autoload.d/kernel-2.6:  kernel modules to load when system boots.\ntg3' \
	>"$r/etc/modules.autoload.d/kernel-2.6"
cp -a "$r" "$t/orig"

sf() { "$SUP/nb-sysfiles" "$@"; }
files="etc/sysctl.conf etc/services etc/hosts.allow etc/modules.autoload.d/kernel-2.6"

out=$(sf status --root "$r"); rc=$?
check_rc "status before apply exits 3" 3 $rc "$out"
check_has "status: sysctl.conf not applied" "^$r/etc/sysctl.conf: not applied\$" "$out"
check_has "status: kernel-2.4 would be created" "kernel-2.4: does not exist; apply would create it" "$out"

out=$(sf apply --root "$r" --dry-run); rc=$?
check_rc "apply --dry-run exits 0" 0 $rc "$out"
check_has "dry run lists the lines it would add" '^\+kernel.sem = 300 1024 32 1024$' "$out"
check_eq "apply --dry-run writes nothing" "$(tree_state "$t/orig")" "$(tree_state "$r")"

out=$(sf apply --root "$r"); rc=$?
check_rc "apply exits 0" 0 $rc "$out"
check_has "apply shows a diff-like header" "^\+\+\+ $r/etc/services\$" "$out"
check_has "apply lists added lines with +" '^\+bpcd +13782/tcp$' "$out"
cp -a "$r" "$t/once"

out=$(sf apply --root "$r"); rc=$?
check_rc "second apply exits 0" 0 $rc "$out"
for f in $files etc/modules.autoload.d/kernel-2.4; do
	check "apply twice == apply once: $f" cmp "$t/once/$f" "$r/$f"
done
check_lacks "second apply lists no changes" '^[-+]' "$out"

out=$(sf status --root "$r"); rc=$?
check_rc "status after apply exits 0" 0 $rc "$out"
check_has "status: services applied" "^$r/etc/services: applied\$" "$out"

# what went in
sysctl_block=$(sed -n '/^# BEGIN app-backup\/netbackup-support/,/^# END app-backup\/netbackup-support$/p' "$r/etc/sysctl.conf" | grep -v '^#')
check_eq "sysctl.conf block holds the HOWTO's values" "net.ipv4.tcp_ecn = 0
kernel.shmmax = 268435456
kernel.shmall = 268435456
kernel.shmmni = 220
kernel.sem = 300 1024 32 1024
kernel.msgmnb = 65536
kernel.msgmax = 8192
kernel.msgmni = 256" "$sysctl_block"
svc=$(sed -n '/^# BEGIN app-backup/,/^# END app-backup/p' "$r/etc/services" | grep -v '^#' | awk '{print $1, $2}')
check_eq "services block holds exactly the verified ports, tcp and udp" "bprd 13720/tcp
bprd 13720/udp
bpdbm 13721/tcp
bpdbm 13721/udp
bpjava-msvc 13722/tcp
bpjava-msvc 13722/udp
vnetd 13724/tcp
vnetd 13724/udp
bpcd 13782/tcp
bpcd 13782/udp
vopied 13783/tcp
vopied 13783/udp" "$svc"
check "services file names the left-out ports in a comment" grep -q '^# vmd 13701, tldcd 13711 and bpjobd 13723 are not listed' "$r/etc/services"
check_eq "kernel-2.4 lists qla2300 sg st" "qla2300 sg st" "$(grep -v '^#' "$r/etc/modules.autoload.d/kernel-2.4" | tr '\n' ' ' | sed 's/ $//')"
check_eq "kernel-2.6 keeps tg3 and adds qla2300 sg st" "tg3 qla2300 sg st" "$(grep -v '^#' "$r/etc/modules.autoload.d/kernel-2.6" | tr '\n' ' ' | sed 's/ $//')"
check_eq "hosts.allow gets the HOWTO's seven daemons" "bpcd: ALL bprd: ALL bpjobd: ALL bpdbm: ALL nbdbd: ALL tldcd: ALL vmd: ALL" \
	"$(sed -n '/^# BEGIN app-backup/,/^# END app-backup/p' "$r/etc/hosts.allow" | grep -v '^#' | tr '\n' ' ' | sed 's/ $//')"
check "the block is marked with begin/end lines naming the package" grep -q "^# END app-backup/netbackup-support$" "$r/etc/hosts.allow"

out=$(sf revert --root "$r" --dry-run); rc=$?
check_rc "revert --dry-run exits 0" 0 $rc "$out"
check_has "revert --dry-run lists removed lines with -" '^-kernel.msgmni = 256$' "$out"
check "revert --dry-run writes nothing" cmp "$t/once/etc/sysctl.conf" "$r/etc/sysctl.conf"

out=$(sf revert --root "$r"); rc=$?
check_rc "revert exits 0" 0 $rc "$out"
for f in $files; do
	check "revert restores $f byte for byte" cmp "$t/orig/$f" "$r/$f"
done
check "revert removes the kernel-2.4 that apply created" test ! -e "$r/etc/modules.autoload.d/kernel-2.4"
check_eq "after revert the whole tree equals the original" "$(tree_state "$t/orig")" "$(tree_state "$r")"
out=$(sf revert --root "$r"); rc=$?
check_rc "second revert exits 0" 0 $rc "$out"
check_eq "second revert changes nothing" "$(tree_state "$t/orig")" "$(tree_state "$r")"

# entries already in /etc/services are not repeated; a NAME limits the files
r2=$t/root2
mkdir -p "$r2/etc"
printf 'bprd\t\t13720/tcp\t\t\t# netbase had these once\nbpcd\t\t13782/tcp\n' >"$r2/etc/services"
out=$(sf apply --root "$r2" services); rc=$?
check_rc "apply services only exits 0" 0 $rc "$out"
check_eq "only services was touched" "./etc d 755
./etc/services f 644 $(md5sum <"$r2/etc/services" | cut -d' ' -f1)" "$(tree_state "$r2")"
check_eq "entries already defined are not added again" 1 "$(grep -c '^bprd[[:space:]]*13720/tcp' "$r2/etc/services")"
check "their udp twins are added" grep -q '^bprd  *13720/udp' "$r2/etc/services"
all=$t/root3
mkdir -p "$all/etc"
for s in bprd:13720 bpdbm:13721 bpjava-msvc:13722 vnetd:13724 bpcd:13782 vopied:13783; do
	printf '%s %s/tcp\n%s %s/udp\n' "${s%:*}" "${s#*:}" "${s%:*}" "${s#*:}"
done >"$all/etc/services"
cp "$all/etc/services" "$t/services.full"
out=$(sf apply --root "$all" services); rc=$?
check_rc "apply on a services file that has them all exits 0" 0 $rc "$out"
check_has "... says there is nothing to add" "services: nothing to add" "$out"
check "... and leaves it alone" cmp "$t/services.full" "$all/etc/services"

# missing files: services is never created, the others are, and no
# modules.autoload.d means not baselayout 1
empty=$t/empty
mkdir -p "$empty/etc"
out=$(sf apply --root "$empty"); rc=$?
check_rc "apply on an empty /etc exits 0" 0 $rc "$out"
check_has "missing services is reported, not created" "etc/services: does not exist; not created" "$out"
check "... and really not created" test ! -e "$empty/etc/services"
check "missing sysctl.conf is created" test -s "$empty/etc/sysctl.conf"
check_has "missing modules.autoload.d is reported" "modules.autoload.d: does not exist \(not baselayout 1\)" "$out"
sf revert --root "$empty" >/dev/null
check_eq "revert on it leaves /etc empty again" "" "$(cd "$empty/etc" && ls -A)"

out=$(sf frobnicate 2>&1); rc=$?
check_rc "unknown action exits 2" 2 $rc "$out"
check_has "... naming it" "unknown action or file name 'frobnicate'" "$out"
out=$(sf apply --bogus 2>&1); rc=$?
check_rc "unknown option exits 2" 2 $rc "$out"
check_has "... naming it" "unknown option '--bogus'" "$out"
out=$(sf --root "$r" 2>&1); rc=$?
check_rc "no action exits 2" 2 $rc "$out"
out=$(sf status --root "$t/nonexistent" 2>&1); rc=$?
check_rc "a missing --root exits 1" 1 $rc "$out"
check_has "... naming it" "$t/nonexistent does not exist" "$out"
mkdir -p "$t/dirroot/etc/sysctl.conf"
out=$(sf apply --root "$t/dirroot" sysctl 2>&1); rc=$?
check_rc "a sysctl.conf that is a directory exits 1" 1 $rc "$out"
check_has "... naming it" "$t/dirroot/etc/sysctl.conf: not a regular file" "$out"
out=$(sf --help); rc=$?
check_rc "--help exits 0" 0 $rc "$out"
