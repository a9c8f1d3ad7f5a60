#!/usr/bin/env bash
# nb-sysfiles apply modules: the chip module that binds the QLogic HBA is loaded at boot, from
# the HBA's PCI ID in /proc/bus/pci/devices (both series have it; NB_PCI_DEVICES stands in for
# it here), else --chip, else the HOWTO's qla2300. modules.devfsd gets the HOWTO's SCSI entries
# when devfsd's file is there and is skipped, saying so, when it is not.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sf() { "$SUP/nb-sysfiles" "$@"; }

# A /proc/bus/pci/devices as 2.4 and 2.6 write it: slot, vendor and device, irq, addresses.
pci() {
	printf '0000\t80867190\t0\t\t00000000\n' >"$t/pci"
	[ -z "$1" ] || printf '0810\t1077%s\t18\t\t0000e001\n' "$1" >>"$t/pci"
	printf '0818\t14e41648\t19\t\tfe9f0004\n' >>"$t/pci"
}
# modules SERIES [ARGS...]: the module lines apply writes into kernel-SERIES of a new root.
modules() {
	local series=$1 r
	shift
	r=$(mktemp -d "$t/root.XXXXXX")
	mkdir -p "$r/etc/modules.autoload.d"
	NB_PCI_DEVICES=$t/pci sf apply --root "$r" "$@" modules >"$t/out" 2>&1 || { cat "$t/out"; return 1; }
	grep -v '^#' "$r/etc/modules.autoload.d/kernel-$series" | tr '\n' ' ' | sed 's/ $//'
}

pci 2312
check_eq "ISP2312 on 2.6: qla2300" "qla2300 sg st" "$(modules 2.6)"
pci 2422
check_eq "ISP2422 on 2.6: qla2400" "qla2400 sg st" "$(modules 2.6)"
check_eq "ISP2422 on 2.4 (no 7.x module): the default" "qla2300 sg st" "$(modules 2.4)"
pci 2322
check_eq "ISP2322 on 2.6: qla2322" "qla2322 sg st" "$(modules 2.6)"
check_eq "ISP2322 on 2.4: qla2300 (the 23xx family)" "qla2300 sg st" "$(modules 2.4)"
pci 2200
check_eq "ISP2200 on 2.4: qla2200" "qla2200 sg st" "$(modules 2.4)"
check_eq "the HBA found wins over --chip" "qla2200 sg st" "$(modules 2.6 --chip qla2400)"
pci ""
check_eq "no QLogic HBA: qla2300" "qla2300 sg st" "$(modules 2.6)"
check_eq "no QLogic HBA, --chip qla2400: qla2400" "qla2400 sg st" "$(modules 2.6 --chip qla2400)"
r=$(mktemp -d "$t/root.XXXXXX")
mkdir -p "$r/etc/modules.autoload.d"
pci 2100
NB_PCI_DEVICES=$t/pci sf apply --root "$r" modules >/dev/null 2>&1
check "the block says why: the ISP found" grep -q '^# QLogic FC HBA: qla2100, the chip module for the QLogic ISP2100 found on the PCI bus' "$r/etc/modules.autoload.d/kernel-2.4"
NB_PCI_DEVICES=/nonexistent sf apply --root "$r" modules >/dev/null 2>&1
check "an unreadable PCI list counts as no HBA" grep -qx 'qla2300' "$r/etc/modules.autoload.d/kernel-2.6"

out=$(sf apply --root "$r" --chip qla9999 modules 2>&1)
rc=$?
check_eq "--chip with an unknown module: usage error (exit 2)" 2 "$rc"
check_has "--chip names the modules it knows" "unknown chip module 'qla9999'" "$out"

# modules.devfsd: devfsd's file gets the HOWTO's entries; without devfsd nothing is created.
r=$(mktemp -d "$t/root.XXXXXX")
mkdir -p "$r/etc"
printf '# devfsd modules config\nalias     /dev/ide  ide-probe-mod\n' >"$r/etc/modules.devfsd"
cp "$r/etc/modules.devfsd" "$t/devfsd.orig"
sf apply --root "$r" modules.devfsd >/dev/null 2>&1
check "modules.devfsd: probeall /dev/sg loads the host adapter, then sg" grep -q '^probeall  /dev/sg               scsi_hostadapter sg$' "$r/etc/modules.devfsd"
check "modules.devfsd: /dev/nst* is a tape name" grep -q '^alias     /dev/nst\*             /dev/st$' "$r/etc/modules.devfsd"
check "modules.devfsd: devfsd's own lines stay" grep -q '^alias     /dev/ide  ide-probe-mod$' "$r/etc/modules.devfsd"
sf revert --root "$r" modules.devfsd >/dev/null 2>&1
check "modules.devfsd: revert gives devfsd's file back byte for byte" cmp -s "$t/devfsd.orig" "$r/etc/modules.devfsd"
r=$(mktemp -d "$t/root.XXXXXX")
mkdir -p "$r/etc"
out=$(sf apply --root "$r" modules.devfsd 2>&1)
rc=$?
check_eq "modules.devfsd without devfsd: nothing to do (exit 0)" 0 "$rc"
check_has "modules.devfsd without devfsd: says it skipped" "/etc/modules\.devfsd: does not exist \(devfsd is not installed\); skipped" "$out"
check "modules.devfsd without devfsd: no file created" test ! -e "$r/etc/modules.devfsd"
