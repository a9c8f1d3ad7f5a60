#!/usr/bin/env bash
# nb-kernel.eclass's module-rebuild list: pkg_postinst adds the package's line to
# ${ROOT}/var/lib/module-rebuild/moduledb once, pkg_postrm takes that line out and leaves the
# others; the eclass is sourced by bash as portage sources it, with stand-ins for portage's output
# helpers. (The matrix checks the line after real emerges on portage 2.0.54 and 2.1.2.2.)
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
eclass=$repo/overlay/eclass/nb-kernel.eclass
db=$t/root/var/lib/module-rebuild/moduledb

# in_eclass FUNCTION: run it in a bash that sourced the eclass the way an ebuild's phase does.
in_eclass() {
	ROOT="$t/root/" CATEGORY=sys-block PN=qla2x00-driver PVR=8.01.07 PF=qla2x00-driver-8.01.07 \
		EAPI=0 bash -c '
		die() { echo "die: $*" >&2; exit 1; }
		einfo() { :; }
		ewarn() { :; }
		. "$1" || exit 1
		"$2"' _ "$eclass" "$1"
}

if in_eclass nb-kernel_update_moduledb && in_eclass nb-kernel_update_moduledb \
	&& [ "$(cat "$db")" = "a:1:sys-block/qla2x00-driver-8.01.07" ]; then
	pass "pkg_postinst: the moduledb line is added once, in ROOT, directory made"
else
	fail "pkg_postinst: the moduledb line is added once, in ROOT" "$(cat "$db" 2>&1)"
fi
printf 'a:1:sys-fs/other-1\n' >"$t/other"
{ cat "$t/other"; cat "$db"; printf 'a:1:x11-drivers/third-2\n'; } >"$db.tmp" && mv "$db.tmp" "$db"
if in_eclass nb-kernel_remove_moduledb \
	&& [ "$(cat "$db")" = "$(printf 'a:1:sys-fs/other-1\na:1:x11-drivers/third-2')" ]; then
	pass "pkg_postrm: only the package's line leaves the moduledb"
else
	fail "pkg_postrm: only the package's line leaves the moduledb" "$(cat "$db" 2>&1)"
fi
if in_eclass nb-kernel_remove_moduledb && [ "$(wc -l <"$db")" = 2 ] \
	&& [ -z "$(find "$t/root" -name '*.new')" ]; then
	pass "pkg_postrm: nothing to remove is no error, and no temporary file is left"
else
	fail "pkg_postrm: nothing to remove is no error" "$(ls -la "$t/root/var/lib/module-rebuild")"
fi
# A moduledb that is a directory cannot be written, even by root: the phase must die, not pass.
rm -f "$db" && mkdir "$db"
if in_eclass nb-kernel_update_moduledb 2>"$t/err"; then
	fail "pkg_postinst dies when the moduledb cannot be written"
elif grep -q "die: adding a:1:sys-block/qla2x00-driver-8.01.07 to .*moduledb failed" "$t/err"; then
	pass "pkg_postinst dies, naming the moduledb, when it cannot be written"
else
	fail "pkg_postinst dies, naming the moduledb, when it cannot be written" "$(cat "$t/err")"
fi
