#!/usr/bin/env bash
# nb-devlinks on hostile or broken listings (issue 11, items 6 and 7): device
# strings reach udev rules only as escaped comments; every host/bus/target/
# lun is decimal or its record is named and skipped (exit 1); a duplicate
# H:C:T:L is reported; no link is ever made outside --root.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
dl() { "$SUP/nb-devlinks" "$@"; }

# rules_ok FILE: every line a comment of printable ASCII not ending in a
# backslash, or one of the two fixed rules with decimal numbers
rules_bad() {
	LC_ALL=C grep -Evx -e '#[ -~]*[ -[]|#[ -~]*[]-~]|#' \
		-e 'SUBSYSTEM=="scsi_generic", KERNELS=="([0-9]+):([0-9]+):([0-9]+):([0-9]+)", SYMLINK\+="sg/h\1c\2t\3l\4"' \
		-e 'SUBSYSTEM=="scsi_tape", KERNEL=="nst\*\[0-9\]", KERNELS=="([0-9]+):([0-9]+):([0-9]+):([0-9]+)", SYMLINK\+="st/nh\1c\2t\3l\4"' "$1"
}

# --- item 6: device strings in udev rules -----------------------------------
# Vendor and model with escapes that dash's echo expands, quotes, a trailing
# backslash (a udev line continuation) and a raw control byte.
# shellcheck disable=SC2016 # the dollar is data
printf '%s\n' \
	'[1:0:0:0]    mediumx HP\nRUN+="/bin/touch_/tmp/pwned"       C7200  1720  -  /dev/sg1' \
	'[1:0:0:1]    tape    ACME",RUN+="/x"  Model\c\0101\\  E36R  /dev/st0  /dev/sg2' \
	'[1:0:0:2]    tape    EVIL  $(reboot)\  E36R  /dev/st1  /dev/sg3' >"$t/evil-lsscsi.txt"
printf '[2:0:4:0]    tape    CTRL\001\033[2J  X  E36R  /dev/st2  /dev/sg5\n' >>"$t/evil-lsscsi.txt"
printf '%s\n' 'Attached devices:' \
	'Host: scsi1 Channel: 00 Id: 00 Lun: 00' \
	'  Vendor: HP\nRUN+="/a" Model: C7200\\ Rev: 1720' \
	'  Type:   Medium Changer                   ANSI SCSI revision: 03' >"$t/evil-proc.txt"
for f in evil-lsscsi evil-proc; do
	out=$(dl --input "$t/$f.txt" --udev-rules "$t/$f.rules" 2>&1); rc=$?
	check_rc "$f: --udev-rules exits 0" 0 $rc "$out"
	check_eq "$f: every rules line is a comment or a fixed rule" "" "$(rules_bad "$t/$f.rules")"
	check_lacks "$f: no RUN key" '^[^#]*RUN' "$(cat "$t/$f.rules")"
done
check_has "the model text is in a comment, backslashes escaped" \
	'^# 1:0:0:0 changer: HP\\x5cnRUN\+="/bin/touch_/tmp/pwned" C7200$' "$(cat "$t/evil-lsscsi.rules")"
check_has "a trailing backslash is escaped, so no line continues" \
	'^# 1:0:0:2 tape: EVIL \$\(reboot\)\\x5c$' "$(cat "$t/evil-lsscsi.rules")"
check_has "control bytes are escaped" '^# 2:0:4:0 tape: CTRL\\x01\\x1b\[2J X$' "$(cat "$t/evil-lsscsi.rules")"
check_eq "each device gets exactly one comment line" 4 "$(grep -c '^# [0-9]' "$t/evil-lsscsi.rules")"

# --- item 7: numbers --------------------------------------------------------
# The root sits deep, so that a climb out of it stays inside $t, where the
# check below can see it.
deep=$t/a/b/c/d/e/f
r=$deep/root
mkdir -p "$r"
# shellcheck disable=SC2016
printf '%s\n' \
	'/dev/sg1  1 0 0 0  8' \
	'/dev/sg2  /../../../../outside/x 0 0 1  1  /dev/st0' \
	'/dev/sg3  1 0 0 2",RUN+="/x  1  /dev/st1' \
	'/dev/sg4  2 0 3 -1  8' \
	'/dev/sg5  2 0 4 0  1  /dev/st2' \
	'/dev/sg6  2 0 4 0  1  /dev/st3' \
	'/dev/sg../../x  2 0 5 0  8' \
	'/dev/sg7  2 0 6' \
	'/dev/sg8  0x2 0 7 0  8' >"$t/bad-sgmap.txt"
out=$(dl --input "$t/bad-sgmap.txt" --mode udev --root "$r" 2>&1); rc=$?
check_rc "sgmap with bad records: exit 1" 1 $rc "$out"
check_has "a path as host is named with its line and skipped" "^nb-devlinks: $t/bad-sgmap.txt:2: host '/../../../../outside/x' is not a decimal number; record skipped: /dev/sg2" "$out"
check_has "quotes in a number are named" "bad-sgmap.txt:3: lun '2\",RUN\+=\"/x' is not a decimal number" "$out"
check_has "a negative number is named" "bad-sgmap.txt:4: lun '-1' is not a decimal number" "$out"
check_has "a hex number is named" "bad-sgmap.txt:9: host '0x2' is not a decimal number" "$out"
check_has "a bad sg node is named" "bad-sgmap.txt:7: .*not an sg device node" "$out"
check_has "a short record is named" "bad-sgmap.txt:8: .*too few fields" "$out"
check_has "a duplicate H:C:T:L is reported with both lines" "bad-sgmap.txt:6: 2:0:4:0 is listed again \(first at line 5\); record skipped" "$out"
check_eq "only the good records' links are made, the first of a duplicate kept" \
	"/dev/sg/h1c0t0l0 -> /dev/sg1
/dev/sg/h2c0t4l0 -> /dev/sg5
/dev/st/nh2c0t4l0 -> /dev/nst2" "$(cd "$r" && find dev -type l | LC_ALL=C sort | while read -r l; do printf '/%s -> %s\n' "$l" "$(readlink "$l")"; done)"
check_eq "nothing is made outside the root" "" "$(cd "$t" && find . -mindepth 1 ! -path './a' ! -path './a/b' ! -path './a/b/c' ! -path './a/b/c/d' ! -path './a/b/c/d/e' ! -path './a/b/c/d/e/f' ! -path './a/b/c/d/e/f/root*' ! -name 'bad-*.txt' ! -name 'evil-*')"

out=$(dl --input "$t/bad-sgmap.txt" --udev-rules "$t/bad-sgmap.rules" 2>&1); rc=$?
check_rc "sgmap with bad records, --udev-rules: exit 1" 1 $rc "$out"
check_eq "... the rules hold only comments and fixed rules" "" "$(rules_bad "$t/bad-sgmap.rules")"
check_eq "... for the good records only" 2 "$(grep -c '^SUBSYSTEM=="scsi_generic"' "$t/bad-sgmap.rules")"

printf '%s\n' \
	'[1:0:0:0]    mediumx HP       C7200            1720  -          /dev/sg1' \
	'[1:0:0:x]    tape    HP       Ultrium 1-SCSI   E36R  /dev/st0   /dev/sg2' \
	'[1:0:0:1:5]  tape    HP       Ultrium 1-SCSI   E36R  /dev/st1   /dev/sg3' \
	'[1:0:0:0]    tape    HP       Ultrium 1-SCSI   E36R  /dev/st2   /dev/sg4' >"$t/bad-lsscsi.txt"
out=$(dl --input "$t/bad-lsscsi.txt" --mode devfs --root "$r" 2>&1); rc=$?
check_rc "lsscsi with bad records: exit 1" 1 $rc "$out"
check_has "a letter in H:C:T:L is named" "bad-lsscsi.txt:2: lun 'x' is not a decimal number" "$out"
check_has "five numbers are named" "bad-lsscsi.txt:3: .*not \[host:bus:target:lun\]" "$out"
check_has "a duplicate is reported" "bad-lsscsi.txt:4: 1:0:0:0 is listed again \(first at line 1\)" "$out"

printf '%s\n' 'Attached devices:' \
	'Host: scsi1 Channel: 00 Id: 00 Lun: 00' \
	'  Vendor: HP       Model: C7200            Rev: 1720' \
	'  Type:   Medium Changer                   ANSI SCSI revision: 03' \
	'Host: scsi1 Channel: 0x Id: 00 Lun: 01' \
	'  Vendor: HP       Model: Ultrium 1-SCSI   Rev: E36R' \
	'  Type:   Sequential-Access                ANSI SCSI revision: 03' \
	'Host: scsi/../../x Channel: 00 Id: 00 Lun: 02' \
	'  Vendor: HP       Model: Ultrium 1-SCSI   Rev: E36R' \
	'  Type:   Sequential-Access                ANSI SCSI revision: 03' \
	'Host: scsi2 Channel: 00 Lun: 00' \
	'  Vendor: SONY     Model: SDX-700C         Rev: 0204' \
	'  Type:   Sequential-Access                ANSI SCSI revision: 02' \
	'Host: scsi1 Channel: 0 Id: 0 Lun: 0' \
	'  Vendor: HP       Model: C7200            Rev: 1720' \
	'  Type:   Medium Changer                   ANSI SCSI revision: 03' >"$t/bad-proc.txt"
out=$(dl --input "$t/bad-proc.txt" --mode devfs --root "$r" 2>&1); rc=$?
check_rc "proc with bad records: exit 1" 1 $rc "$out"
check_has "a bad channel is named" "bad-proc.txt:5: bus '0x' is not a decimal number" "$out"
check_has "a bad host is named" "bad-proc.txt:8: host 'scsi/../../x' is not scsiN" "$out"
check_has "a missing Id is named" "bad-proc.txt:11: target '' is not a decimal number" "$out"
check_has "a duplicate is found after 00 == 0" "bad-proc.txt:14: 1:0:0:0 is listed again \(first at line 2\)" "$out"

printf '/dev/sg2  x 0 0 1  1  /dev/st0\n' >"$t/allbad.txt"
out=$(dl --input "$t/allbad.txt" --format sgmap --root "$r" 2>&1); rc=$?
check_rc "a listing with only bad records exits 1, not 3" 1 $rc "$out"
check_has "... saying no record was usable" "no usable record" "$out"

# ROOT/dev (or dev/sg) a symlink out of the root: refused, nothing made there
hostdev=$t/hostdev
mkdir -p "$hostdev" "$t/r2"
ln -s "$hostdev" "$t/r2/dev"
out=$(dl --input "$FIX/howto-sg_map-x.txt" --mode udev --root "$t/r2" 2>&1); rc=$?
check_rc "ROOT/dev a symlink out of the root: exit 1" 1 $rc "$out"
check_has "... naming it" "$t/r2/dev is a symbolic link" "$out"
check_eq "... and nothing is made where it points" "" "$(ls -A "$hostdev")"
mkdir -p "$t/r3/dev"
ln -s "$hostdev" "$t/r3/dev/st"
out=$(dl --input "$FIX/howto-sg_map-x.txt" --mode udev --root "$t/r3" 2>&1); rc=$?
check_rc "ROOT/dev/st a symlink out of the root: exit 1" 1 $rc "$out"
check_eq "... and nothing is made where it points" "" "$(ls -A "$hostdev")"

# the rules file is replaced by rename, keeping its mode
printf '# old\n' >"$t/keep.rules"
chmod 600 "$t/keep.rules"
ino=$(stat -c %i "$t/keep.rules")
dl --input "$FIX/howto-sg_map-x.txt" --udev-rules "$t/keep.rules" >/dev/null
check "the rules file is written by rename (new inode)" test "$(stat -c %i "$t/keep.rules")" != "$ino"
check_eq "... keeping its mode" 600 "$(stat -c %a "$t/keep.rules")"
check_eq "... leaving no temporary file" "" "$(find "$t" -maxdepth 1 -name '.keep.rules.*')"
