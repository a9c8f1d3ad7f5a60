#!/usr/bin/env bash
# nb-devlinks on the HOWTO's own library (fixtures in three listing
# formats): the links are exactly the HOWTO's, the udev rules match the same
# devices by H:C:T:L, --dry-run writes nothing, and errors name the file.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
dl() { "$SUP/nb-devlinks" "$@"; }

# links ROOT: "name -> target" for every symlink below ROOT/dev
links() {
	(cd "$1" && find dev -type l | LC_ALL=C sort | while read -r l; do
		echo "/$l -> $(readlink "$l")"
	done)
}

# The HOWTO's `ls -al /dev/sg/` and `ls -al /dev/st/`, as name -> target.
howto_devfs="/dev/sg/h1c0t0l0 -> /dev/scsi/host1/bus0/target0/lun0/generic
/dev/sg/h1c0t0l1 -> /dev/scsi/host1/bus0/target0/lun1/generic
/dev/sg/h1c0t0l2 -> /dev/scsi/host1/bus0/target0/lun2/generic
/dev/sg/h2c0t3l0 -> /dev/scsi/host2/bus0/target3/lun0/generic
/dev/sg/h2c0t4l0 -> /dev/scsi/host2/bus0/target4/lun0/generic
/dev/st/nh1c0t0l1 -> /dev/scsi/host1/bus0/target0/lun1/mtn
/dev/st/nh1c0t0l2 -> /dev/scsi/host1/bus0/target0/lun2/mtn
/dev/st/nh2c0t4l0 -> /dev/scsi/host2/bus0/target4/lun0/mtn"
# The same names on udev/static /dev, with the fixtures' sg/st numbers.
howto_udev="/dev/sg/h1c0t0l0 -> /dev/sg1
/dev/sg/h1c0t0l1 -> /dev/sg2
/dev/sg/h1c0t0l2 -> /dev/sg3
/dev/sg/h2c0t3l0 -> /dev/sg4
/dev/sg/h2c0t4l0 -> /dev/sg5
/dev/st/nh1c0t0l1 -> /dev/nst0
/dev/st/nh1c0t0l2 -> /dev/nst1
/dev/st/nh2c0t4l0 -> /dev/nst2"

for f in proc-scsi lsscsi-g sg_map-x; do
	in=$FIX/howto-$f.txt
	r=$t/$f-devfs
	mkdir -p "$r"
	out=$(dl --input "$in" --mode devfs --root "$r"); rc=$?
	check_rc "$f: devfs links exit 0" 0 $rc "$out"
	check_eq "$f: devfs links are exactly the HOWTO's 5 sg and 3 st links" "$howto_devfs" "$(links "$r")"
	out=$(dl --input "$in" --mode devfs --root "$r"); rc=$?
	check_rc "$f: second run exits 0" 0 $rc "$out"
	check_eq "$f: second run changes nothing" "$howto_devfs" "$(links "$r")"
	check_has "$f: second run reports unchanged links" "h2c0t4l0 -> .* \(unchanged\)" "$out"

	r=$t/$f-dry
	mkdir -p "$r"
	out=$(dl --input "$in" --mode devfs --root "$r" --dry-run); rc=$?
	check_rc "$f: --dry-run exits 0" 0 $rc "$out"
	check_eq "$f: --dry-run writes nothing" "" "$(cd "$r" && find . -mindepth 1)"
	check_has "$f: --dry-run prints the links" "^would link $r/dev/st/nh1c0t0l2 -> /dev/scsi/host1/bus0/target0/lun2/mtn\$" "$out"
done

# devfs recognised by /dev/.devfsd, without --mode
r=$t/auto-devfs
mkdir -p "$r/dev"
: >"$r/dev/.devfsd"
dl --input "$FIX/howto-proc-scsi.txt" --root "$r" >/dev/null
check_eq "devfs detected from ROOT/dev/.devfsd" "$howto_devfs" "$(links "$r")"

for f in lsscsi-g sg_map-x; do
	r=$t/$f-udev
	mkdir -p "$r"
	out=$(dl --input "$FIX/howto-$f.txt" --mode udev --root "$r"); rc=$?
	check_rc "$f: udev-mode links exit 0" 0 $rc "$out"
	check_eq "$f: udev-mode links name the listed sg/nst nodes" "$howto_udev" "$(links "$r")"
done

# /proc/scsi/scsi does not tell sg numbers: on udev without sysfs data that
# must fail, naming the device
if [ -d /sys/class/scsi_generic ] && [ -n "$(ls /sys/class/scsi_generic 2>/dev/null)" ]; then
	skip "proc format on udev without sg numbers fails" "this machine has real sg devices"
else
	mkdir -p "$t/nosys"
	out=$(dl --input "$FIX/howto-proc-scsi.txt" --mode udev --root "$t/nosys" 2>&1); rc=$?
	check_rc "proc format on udev without sg numbers exits 1" 1 $rc "$out"
	check_has "... naming the device" "no sg device known for changer 1:0:0:0 \(HP C7200\)" "$out"
fi

# udev rules
expected_rules='SUBSYSTEM=="scsi_generic", KERNELS=="1:0:0:0", SYMLINK+="sg/h1c0t0l0"
SUBSYSTEM=="scsi_generic", KERNELS=="1:0:0:1", SYMLINK+="sg/h1c0t0l1"
SUBSYSTEM=="scsi_tape", KERNEL=="nst*[0-9]", KERNELS=="1:0:0:1", SYMLINK+="st/nh1c0t0l1"
SUBSYSTEM=="scsi_generic", KERNELS=="1:0:0:2", SYMLINK+="sg/h1c0t0l2"
SUBSYSTEM=="scsi_tape", KERNEL=="nst*[0-9]", KERNELS=="1:0:0:2", SYMLINK+="st/nh1c0t0l2"
SUBSYSTEM=="scsi_generic", KERNELS=="2:0:3:0", SYMLINK+="sg/h2c0t3l0"
SUBSYSTEM=="scsi_generic", KERNELS=="2:0:4:0", SYMLINK+="sg/h2c0t4l0"
SUBSYSTEM=="scsi_tape", KERNEL=="nst*[0-9]", KERNELS=="2:0:4:0", SYMLINK+="st/nh2c0t4l0"'
for f in proc-scsi lsscsi-g sg_map-x; do
	rules=$t/$f.rules
	out=$(dl --input "$FIX/howto-$f.txt" --udev-rules "$rules"); rc=$?
	check_rc "$f: --udev-rules exits 0" 0 $rc "$out"
	check_eq "$f: udev rules match the HOWTO's devices by H:C:T:L and name them alike" \
		"$expected_rules" "$(grep -v '^#' "$rules")"
	check "$f: rules file says host numbers are per boot" grep -q 'host numbers are handed out per boot' "$rules"
done
check_has "rules comments name the device" '^# 2:0:4:0 tape: SONY SDX-700C$' "$(cat "$t/proc-scsi.rules")"
# every rule names an sg/ or st/ link that the HOWTO's devfs links also have
names_rules=$(grep -o 'SYMLINK+="[^"]*"' "$t/lsscsi-g.rules" | sed 's/SYMLINK+="//; s/"$//; s|^|/dev/|' | LC_ALL=C sort)
check_eq "udev rules make the same names as the devfs links" \
	"$(awk '{print $1}' <<<"$howto_devfs")" "$names_rules"
if udevadm verify --help >/dev/null 2>&1; then
	check "udevadm verify accepts the rules" udevadm verify "$t/lsscsi-g.rules"
else
	skip "udevadm verify of the rules" "udevadm $(udevadm --version 2>/dev/null || echo missing) has no 'verify' (added in systemd 254); its syntax check is done with udevadm test below"
fi
# Without verify, `udevadm test` still parses every rules file and reports
# bad lines as FILE:LINE; the rules go into a private tmpfs over
# /etc/udev/rules.d (mount namespace), with a broken control file to show
# the check can fail.
if ! command -v udevadm >/dev/null 2>&1; then
	skip "udevadm test parses the rules" "udevadm not installed (Debian package udev)"
elif [ "$(id -u)" != 0 ] || [ ! -d /etc/udev/rules.d ] || [ ! -e /sys/class/mem/null ] ||
	! unshare --mount true 2>/dev/null; then
	skip "udevadm test parses the rules" "needs root, unshare, /etc/udev/rules.d and /sys/class/mem/null"
else
	printf 'SUBSYSTEM=="scsi_generic", KERNELZ=="1:0:0:0", SYMLINK+="sg/x"\n' >"$t/control.rules"
	# shellcheck disable=SC2016 # expanded by the inner sh
	diag=$(unshare --mount sh -c 'mount -t tmpfs nb-test-rules /etc/udev/rules.d &&
		cp "$1" /etc/udev/rules.d/65-netbackup.rules &&
		cp "$2" /etc/udev/rules.d/66-control.rules &&
		udevadm test /sys/class/mem/null 2>&1' sh "$t/lsscsi-g.rules" "$t/control.rules")
	check_has "udevadm test reads the written rules" "Reading rules file: /etc/udev/rules.d/65-netbackup.rules" "$diag"
	check_lacks "udevadm test reports nothing wrong in them" "65-netbackup.rules:[0-9]+" "$diag"
	check_has "... while it does report a bad key in the control file" "66-control.rules:1 Invalid key" "$diag"
fi
out=$(dl --input "$FIX/howto-sg_map-x.txt" --udev-rules "$t/dry.rules" --dry-run); rc=$?
check_rc "--udev-rules --dry-run exits 0" 0 $rc "$out"
check "--udev-rules --dry-run writes no file" test ! -e "$t/dry.rules"
check_has "--udev-rules --dry-run prints the rules" 'KERNELS=="2:0:3:0"' "$out"

# errors
out=$(dl --bogus 2>&1); rc=$?
check_rc "unknown option exits 2" 2 $rc "$out"
check_has "... naming it" "unknown option '--bogus'" "$out"
out=$(dl --mode hal 2>&1); rc=$?
check_rc "unknown mode exits 2" 2 $rc "$out"
out=$(dl --input "$t/missing.txt" --root "$t" 2>&1); rc=$?
check_rc "missing input file exits 1" 1 $rc "$out"
check_has "... naming the file" "cannot read device list $t/missing.txt" "$out"
out=$(dl --input "$t" --root "$t" 2>&1); rc=$?
check_rc "a directory as input exits 1" 1 $rc "$out"
check_has "... naming it" "cannot read device list $t\$" "$out"
# mode 000: as root, read it as nobody (root would read it anyway)
u=$(mktemp -d)
chmod 755 "$u"
: >"$u/unreadable.txt"
chmod 000 "$u/unreadable.txt"
if [ "$(id -u)" != 0 ]; then
	out=$(dl --input "$u/unreadable.txt" --root "$u" 2>&1); rc=$?
elif command -v setpriv >/dev/null 2>&1; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SUP/nb-devlinks" --input "$u/unreadable.txt" --root "$u" 2>&1); rc=$?
else
	rc=skip
fi
if [ "$rc" = skip ]; then
	skip "unreadable (mode 000) input file" "root without setpriv to drop privileges"
else
	check_rc "unreadable input exits 1" 1 "$rc" "$out"
	check_has "... naming the file" "cannot read device list $u/unreadable.txt" "$out"
fi
rm -rf "$u"
printf 'this is not a device list\n' >"$t/garbage.txt"
out=$(dl --input "$t/garbage.txt" --root "$t" 2>&1); rc=$?
check_rc "unrecognised input exits 1" 1 $rc "$out"
check_has "... naming the file" "$t/garbage.txt: not /proc/scsi/scsi" "$out"
grep -e '^\[0:' "$FIX/howto-lsscsi-g.txt" >"$t/disks-only.txt"
out=$(dl --input "$t/disks-only.txt" --root "$t" 2>&1); rc=$?
check_rc "a listing without changers or drives exits 3" 3 $rc "$out"
check_has "... naming the listing" "no tape drive or medium changer found in $t/disks-only.txt" "$out"
r=$t/clash
mkdir -p "$r/dev/sg"
: >"$r/dev/sg/h1c0t0l0"
out=$(dl --input "$FIX/howto-proc-scsi.txt" --mode devfs --root "$r" 2>&1); rc=$?
check_rc "a regular file in a link's place exits 1" 1 $rc "$out"
check_has "... naming it and leaving it" "$r/dev/sg/h1c0t0l0 exists and is not a symlink; left alone" "$out"
check "... while the other links are made" test -L "$r/dev/st/nh2c0t4l0"
out=$(dl --help); rc=$?
check_rc "--help exits 0" 0 $rc "$out"
