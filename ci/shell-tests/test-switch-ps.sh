#!/usr/bin/env bash
# nb-switch-ps: switching in our bpps/vmps, idempotence, --dry-run,
# --status, byte-exact --revert, and refusing to clobber a changed file.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
nb=$t/openv
mkdir -p "$nb/netbackup/bin" "$nb/volmgr/bin" "$t/saved"
# NetBackup's originals: odd mode and an old mtime, so a revert that
# rewrote instead of renaming would show
printf '#!/bin/sh\n# original bpps\nps -ef | head -30\n' >"$nb/netbackup/bin/bpps"
printf '#!/bin/sh\n# original vmps\nps -ef | tail +2\n' >"$nb/volmgr/bin/vmps"
chmod 555 "$nb/netbackup/bin/bpps" "$nb/volmgr/bin/vmps"
touch -d '2005-01-20 09:06' "$nb/netbackup/bin/bpps" "$nb/volmgr/bin/vmps"
orig_state=$(tree_state "$nb"; stat -c '%n %Y' "$nb/netbackup/bin/bpps" "$nb/volmgr/bin/vmps")
cp -p "$nb/netbackup/bin/bpps" "$t/saved/bpps"
cp -p "$nb/volmgr/bin/vmps" "$t/saved/vmps"

sw() { NB_SUPPORT_DIR=$SUP "$SUP/nb-switch-ps" --nb-root "$nb" "$@"; }

out=$(sw --status); rc=$?
check_rc "status before switching exits 3" 3 $rc "$out"
check_has "status says NetBackup's original is in place" "bin/bpps: NetBackup's original" "$out"

out=$(sw --dry-run); rc=$?
check_rc "--dry-run exits 0" 0 $rc "$out"
check_has "--dry-run says what it would do" "^would: mv -f $nb/netbackup/bin/bpps $nb/netbackup/bin/bpps.orig" "$out"
check_eq "--dry-run changes nothing" "$orig_state" "$(tree_state "$nb"; stat -c '%n %Y' "$nb/netbackup/bin/bpps" "$nb/volmgr/bin/vmps")"

out=$(sw); rc=$?
check_rc "switch exits 0" 0 $rc "$out"
check "bpps is ours after switch" cmp "$SUP/bpps" "$nb/netbackup/bin/bpps"
check "vmps is ours after switch" cmp "$SUP/vmps" "$nb/volmgr/bin/vmps"
check "bpps.orig is the original" cmp "$t/saved/bpps" "$nb/netbackup/bin/bpps.orig"
check "vmps.orig is the original" cmp "$t/saved/vmps" "$nb/volmgr/bin/vmps.orig"
check "switched bpps is executable" test -x "$nb/netbackup/bin/bpps"
check "switched bpps is a copy, not a symlink" test ! -L "$nb/netbackup/bin/bpps"

state1=$(tree_state "$nb")
out=$(sw); rc=$?
check_rc "second switch exits 0" 0 $rc "$out"
check_eq "second switch changes nothing" "$state1" "$(tree_state "$nb")"
check_has "second switch says already replaced" "already replaced" "$out"

out=$(sw --status); rc=$?
check_rc "status after switching exits 0" 0 $rc "$out"

# the switched bpps works in place: finds the switched vmps of that tree
out=$(NB_PS="cat $FIX/ps-master.txt" "$nb/netbackup/bin/bpps" | awk '{print $2}' | tail -n 1)
check_eq "switched bpps calls the tree's vmps" 1215 "$out"

out=$(sw --revert); rc=$?
check_rc "revert exits 0" 0 $rc "$out"
check "reverted bpps is byte for byte the original" cmp "$t/saved/bpps" "$nb/netbackup/bin/bpps"
check "reverted vmps is byte for byte the original" cmp "$t/saved/vmps" "$nb/volmgr/bin/vmps"
check_eq "revert restores the tree exactly (mode, mtime, no .orig left)" "$orig_state" \
	"$(tree_state "$nb"; stat -c '%n %Y' "$nb/netbackup/bin/bpps" "$nb/volmgr/bin/vmps")"

out=$(sw --revert); rc=$?
check_rc "second revert exits 0" 0 $rc "$out"
check_has "second revert says nothing to revert" "not replaced, nothing to revert" "$out"

# a NetBackup patch replaced bpps after the switch: refuse, --force works
sw >/dev/null
printf '#!/bin/sh\n# patched bpps\n' >"$nb/netbackup/bin/bpps"
out=$(sw 2>&1); rc=$?
check_rc "switch over an unknown bpps with a .orig present exits 1" 1 $rc "$out"
check_has "... naming the file" "$nb/netbackup/bin/bpps differs from .*bpps.orig already exists" "$out"
out=$(sw --revert 2>&1); rc=$?
check_rc "revert over a changed bpps exits 1" 1 $rc "$out"
check_has "... naming the file" "$nb/netbackup/bin/bpps is not ours" "$out"
out=$(sw --force 2>&1); rc=$?
check_rc "switch --force exits 0" 0 $rc "$out"
check "--force kept the patched file as .orig" grep -q 'patched bpps' "$nb/netbackup/bin/bpps.orig"

out=$(sw --bogus 2>&1); rc=$?
check_rc "unknown option exits 2" 2 $rc "$out"
check_has "... naming it" "unknown option '--bogus'" "$out"
out=$(NB_SUPPORT_DIR=$SUP "$SUP/nb-switch-ps" --nb-root "$t/nowhere" 2>&1); rc=$?
check_rc "a root without netbackup/bin exits 1" 1 $rc "$out"
check_has "... naming the directory" "$t/nowhere/netbackup/bin: no such directory" "$out"
out=$(NB_SUPPORT_DIR=$t/empty "$SUP/nb-switch-ps" --nb-root "$nb" 2>&1); rc=$?
check_rc "missing packaged bpps exits 1" 1 $rc "$out"
check_has "... naming it" "$t/empty/bpps: missing" "$out"
out=$("$SUP/nb-switch-ps" --help); rc=$?
check_rc "--help exits 0" 0 $rc "$out"
