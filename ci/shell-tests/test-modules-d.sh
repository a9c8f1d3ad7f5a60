#!/usr/bin/env bash
# /etc/modules.d/netbackup (files/netbackup-scsi.modules): baselayout 1's modules-update runs an
# executable modules.d file and takes its output for the kernel it writes for, the running one
# (uname -r). The file must print scsi_mod's 2.4 parameters on a 2.4 kernel and the 2.6 ones
# elsewhere, since modprobe refuses a parameter it does not know; a stub uname gives the kernel.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
f=$SUP/netbackup-scsi.modules
mkdir -p "$t/bin"
# run_for RELEASE: the file's output with `uname -r` saying RELEASE.
run_for() {
	printf '#!/bin/sh\nprintf "%%s\\n" "%s"\n' "$1" >"$t/bin/uname"
	chmod +x "$t/bin/uname"
	PATH="$t/bin:$PATH" sh "$f"
}
check_for() {
	local kv=$1 want=$2 got
	got=$(run_for "$kv")
	if [ "$got" = "$want" ]; then
		pass "modules.d/netbackup on $kv: $want"
	else
		fail "modules.d/netbackup on $kv prints only: $want" "got: $got"
	fi
}
check_for 2.4.27 'options scsi_mod max_scsi_luns=256 scsi_allow_ghost_devices=1'
check_for 2.4.33-gentoo-r2 'options scsi_mod max_scsi_luns=256 scsi_allow_ghost_devices=1'
check_for 2.6.18 'options scsi_mod max_luns=256'
check_for 2.6.16-gentoo-r13 'options scsi_mod max_luns=256'
