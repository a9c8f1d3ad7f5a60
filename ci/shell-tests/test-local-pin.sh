#!/usr/bin/env bash
# scripts/nb-local-pin without portage: what it writes for portage 2.0 (files/digest-${PF} and
# their Manifest1 lines) when the digest files already list other distfiles, when two ebuilds name
# the archive, when the system lacks hash tools, and when a digest file cannot be written.
# The matrices' local-pin entries have the real portages (today's, 2.0.54, 2.1.x) read what it writes.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
shipped_pin=$repo/overlay/scripts/nb-local-pin
pkg=sys-block/qla2x00-driver
archive=qla2xxx-v8.01.07-dist.tgz
pf=qla2x00-driver-8.01.07

if out=$(shellcheck -s sh "$shipped_pin" 2>&1); then
	pass "shellcheck -s sh overlay/scripts/nb-local-pin"
else
	fail "shellcheck -s sh overlay/scripts/nb-local-pin" "$out"
fi

# fresh_overlay DIR: a copy of the overlay as shipped, to damage without touching the checkout.
fresh_overlay() {
	rm -rf "$1"
	cp -R "$repo/overlay" "$1"
}
# The archive's bytes do not matter here; only their digests do.
mkdir -p "$t/dist"
printf 'stand-in for QLogic archive\n' >"$t/dist/$archive"
a=$t/dist/$archive
size=$(wc -c <"$a" | tr -d ' ')
md5=$(md5sum "$a" | cut -d' ' -f1)
sha1=$(sha1sum "$a" | cut -d' ' -f1)
sha256=$(sha256sum "$a" | cut -d' ' -f1)
rmd160=$(openssl dgst -rmd160 "$a" | sed 's/.*= //')
# m1 FILE PATH HASH...: the Manifest1 lines FILE should have, computed here independently.
m1() {
	local f=$1 p=$2 s h
	shift 2
	s=$(wc -c <"$f" | tr -d ' ')
	for h in "$@"; do
		case $h in
		MD5) printf 'MD5 %s %s %s\n' "$(md5sum "$f" | cut -d' ' -f1)" "$p" "$s" ;;
		RMD160) printf 'RMD160 %s %s %s\n' "$(openssl dgst -rmd160 "$f" | sed 's/.*= //')" "$p" "$s" ;;
		SHA1) printf 'SHA1 %s %s %s\n' "$(sha1sum "$f" | cut -d' ' -f1)" "$p" "$s" ;;
		SHA256) printf 'SHA256 %s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$p" "$s" ;;
		esac
	done
}

# --- a digest file that lists other distfiles keeps them, sorted by name --------------------------
ov=$t/ov
fresh_overlay "$ov"
printf '%s\n' "MD5 0123456789abcdef0123456789abcdef zzz-extra.tgz 10" \
	"SHA1 0123456789abcdef0123456789abcdef01234567 aaa-extra.tgz 20" \
	"MD5 00000000000000000000000000000000 $archive 1" >"$ov/$pkg/files/digest-$pf"
loc=$t/local
out=$(sh "$ov/scripts/nb-local-pin" --local "$loc" "$a" 2>&1)
check_rc "pin with other distfiles in the digest file exits 0" 0 $? "$out"
want=$(printf '%s\n' "SHA1 0123456789abcdef0123456789abcdef01234567 aaa-extra.tgz 20" \
	"MD5 $md5 $archive $size" "RMD160 $rmd160 $archive $size" \
	"SHA1 $sha1 $archive $size" "SHA256 $sha256 $archive $size" \
	"MD5 0123456789abcdef0123456789abcdef zzz-extra.tgz 10")
check_eq "the digest file keeps the other distfiles, replaces the archive's stale line, sorted by name" \
	"$want" "$(cat "$loc/$pkg/files/digest-$pf")"
check_eq "the Manifest1 lines of the digest file are renewed (MD5 RMD160 SHA256)" \
	"$(m1 "$loc/$pkg/files/digest-$pf" "files/digest-$pf" MD5 RMD160 SHA256)" \
	"$(grep " files/digest-$pf " "$loc/$pkg/Manifest")"
# The order portage 2.1 wrote: Manifest2 entries sorted by type and name, each file's Manifest1
# lines after its entry, the digest files' Manifest1 lines last.
types=$(awk '{ print ($1 ~ /^(AUX|DIST|EBUILD|MISC)$/) ? "2" : (index($3, "files/digest-") == 1 ? "d" : "1") }' \
	"$loc/$pkg/Manifest" | uniq | tr -d '\n')
if awk '$1 ~ /^(AUX|DIST|EBUILD|MISC)$/ { print $1, $2 }' "$loc/$pkg/Manifest" | LC_ALL=C sort -c 2>/dev/null \
	&& [[ $types =~ ^(21)+d$ ]]; then
	pass "the local Manifest keeps portage 2.1's order (DIST in place, digest files' Manifest1 lines last)"
else
	fail "the local Manifest keeps portage 2.1's order" "$(cut -c1-90 "$loc/$pkg/Manifest")"
fi

# --- every ebuild naming the archive gets its digest file ---------------------------------------
fresh_overlay "$ov"
cp "$ov/$pkg/$pf.ebuild" "$ov/$pkg/$pf-r2.ebuild"
rm -rf "$t/local2"
out=$(sh "$ov/scripts/nb-local-pin" --local "$t/local2" "$a" 2>&1)
check_rc "pin with two ebuilds naming the archive exits 0" 0 $? "$out"
want=$(printf '%s\n' "MD5 $md5 $archive $size" "RMD160 $rmd160 $archive $size" \
	"SHA1 $sha1 $archive $size" "SHA256 $sha256 $archive $size")
check_eq "-r2's digest file (new) lists the archive" "$want" "$(cat "$t/local2/$pkg/files/digest-$pf-r2" 2>&1)"
check_eq "8.01.07's digest file lists the archive" "$want" "$(cat "$t/local2/$pkg/files/digest-$pf" 2>&1)"
check_eq "7.00.01's digest file (another archive) is left as synced" \
	"$(cat "$ov/$pkg/files/digest-qla2x00-driver-7.00.01")" "$(cat "$t/local2/$pkg/files/digest-qla2x00-driver-7.00.01")"
check_eq "both digest files get Manifest1 lines, the new one's appended" \
	"$(m1 "$t/local2/$pkg/files/digest-$pf" "files/digest-$pf" MD5 RMD160 SHA256; m1 "$t/local2/$pkg/files/digest-$pf-r2" "files/digest-$pf-r2" MD5 RMD160 SHA256)" \
	"$(grep " files/digest-$pf" "$t/local2/$pkg/Manifest")"

# --- a system with neither md5sum nor openssl: drops MD5 and RMD160, never leaves them stale -------
fresh_overlay "$ov"
bin=$t/bin
mkdir -p "$bin"
for tool in sh sed grep cat cp mv rm mkdir wc tr dirname awk sort cut sha1sum sha256sum; do
	ln -s "$(command -v "$tool")" "$bin/$tool"
done
rm -rf "$t/local3"
out=$(PATH=$bin sh "$ov/scripts/nb-local-pin" --local "$t/local3" "$a" 2>&1)
check_rc "pin without md5sum and openssl exits 0 (SHA1 and SHA256 are there)" 0 $? "$out"
want=$(printf '%s\n' "SHA1 $sha1 $archive $size" "SHA256 $sha256 $archive $size")
check_eq "without md5sum and openssl: the digest file has the SHA1 and SHA256 lines" \
	"$want" "$(cat "$t/local3/$pkg/files/digest-$pf" 2>&1)"
check_eq "without md5sum and openssl: SHA1 stands in for MD5 in the Manifest1 lines, no stale line left" \
	"$(m1 "$t/local3/$pkg/files/digest-$pf" "files/digest-$pf" SHA1 SHA256)" \
	"$(grep " files/digest-$pf " "$t/local3/$pkg/Manifest")"

# --- a digest file that cannot be written: refused, named, nothing half-written -------------------
# The local overlay already holds a good copy; the failing run must leave it exactly as it was.
fresh_overlay "$ov"
rm -rf "$t/local4"
sh "$ov/scripts/nb-local-pin" --local "$t/local4" "$a" >/dev/null 2>&1
before=$(tree_state "$t/local4")
# A directory where the script writes the new digest file beside the old one.
mkdir "$ov/$pkg/files/digest-$pf.new"
out=$(sh "$ov/scripts/nb-local-pin" --local "$t/local4" "$a" 2>&1)
check_rc "digest-$pf.new in the way: exit 1" 1 $? "$out"
check_has "digest-$pf.new in the way: the error names the digest file" \
	"nb-local-pin: cannot write $t/local4/$pkg/files/digest-$pf\$" "$out"
check_eq "digest-$pf.new in the way: the local overlay is as it was, no temporary left" \
	"$before" "$(tree_state "$t/local4")"
# A directory where the synced digest file should be: neither read nor replaced.
rmdir "$ov/$pkg/files/digest-$pf.new"
rm "$ov/$pkg/files/digest-$pf"
mkdir -p "$ov/$pkg/files/digest-$pf/x"
out=$(sh "$ov/scripts/nb-local-pin" --local "$t/local4" "$a" 2>&1)
check_rc "a directory as digest-$pf: exit 1" 1 $? "$out"
check_has "a directory as digest-$pf: the error names the digest file" \
	"nb-local-pin: cannot write $t/local4/$pkg/files/digest-$pf" "$out"
check_eq "a directory as digest-$pf: the local overlay is as it was, no temporary left" \
	"$before" "$(tree_state "$t/local4")"

# --- interrupted while copying: the half-made copy goes ---------------------------------------------
# A cp that copies, then waits to be released: the script gets SIGTERM while its copy is on disk.
fresh_overlay "$ov"
slow=$t/slow-bin
mkdir -p "$slow"
real_cp=$(command -v cp)
cat >"$slow/cp" <<SLOW
#!/bin/sh
"$real_cp" "\$@" || exit 1
sleep 30 &
trap 'kill \$! 2>/dev/null; exit 0' TERM
printf '%s\\n' \$\$ >"$t/cp.pid"
wait \$!
SLOW
chmod +x "$slow/cp"
rm -rf "$t/local5" "$t/cp.pid"
PATH=$slow:$PATH sh "$ov/scripts/nb-local-pin" --local "$t/local5" "$a" >"$t/int.out" 2>&1 &
script_pid=$!
for _ in $(seq 100); do [ -s "$t/cp.pid" ] && break; sleep 0.1; done
kill -TERM "$script_pid"
kill -TERM "$(cat "$t/cp.pid")"
wait "$script_pid"
check_rc "SIGTERM while copying: exit 1" 1 $? "$(cat "$t/int.out")"
check_has "SIGTERM while copying: says so" "^nb-local-pin: interrupted$" "$(cat "$t/int.out")"
check_eq "SIGTERM while copying: no package copy, whole or half, is left" "" \
	"$(find "$t/local5" -path "*/sys-block/*" 2>/dev/null)"
