#!/usr/bin/env bash
# bpps and vmps: exact output on canned ps listings, options, errors, and
# a live ps run that must find a process by its program name.
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

ps_fix="cat $FIX/ps-master.txt"

vm_expected="root      1201 09:06 /usr/openv/volmgr/bin/ltid
root      1205 09:06 vmd
root      1207 09:06 /usr/openv/volmgr/bin/avrd
root      1210 09:06 /usr/openv/volmgr/bin/tldd
root      1212 09:06 /usr/openv/volmgr/bin/tldcd
root      1215 09:06 /usr/openv/volmgr/bin/tl8d"
bp_expected="root      1230 09:06 /usr/openv/netbackup/bin/bprd
root      1233 09:06 /usr/openv/netbackup/bin/bpdbm
root      1240 09:06 /usr/openv/netbackup/bin/nbdbd
root      1251 09:07 /usr/openv/netbackup/bin/visd
root      2001 Dec20 /usr/openv/netbackup/bin/bpcd -standalone
root      2100 10:15 /usr/openv/netbackup/bin/bpbrm -backup -c client1
root      2101 10:15 /usr/openv/netbackup/bin/bptm -w -c client1
root      1300 09:08 [bpsched]"
nbar_expected="root      1290 09:07 /usr/openv/nbar/jre/bin/java -Dvrts.nbar=/usr/openv/nbar -jar nbar.jar
root      1291 09:07 /usr/openv/nbar/bin/nbarsvc"

out=$(NB_PS=$ps_fix "$SUP/vmps"); rc=$?
check_rc "vmps exits 0 on canned ps" 0 $rc "$out"
check_eq "vmps lists exactly the Media Manager daemons" "$vm_expected" "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps"); rc=$?
check_rc "bpps exits 0 on canned ps" 0 $rc "$out"
check_eq "bpps lists NetBackup then Media Manager processes" "$bp_expected
$vm_expected" "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps" -x)
check_eq "bpps -x equals bpps" "$bp_expected
$vm_expected" "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps" -r)
check_eq "bpps -r lists only Advanced Reporter processes" "$nbar_expected" "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps" -a)
check_eq "bpps -a lists all three groups" "$bp_expected
$vm_expected
$nbar_expected" "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps" | awk '{print $2}' | tr '\n' ' ')
check_eq "awk '{print \$2}' on bpps output gives the pids" \
	"1230 1233 1240 1251 2001 2100 2101 1300 1201 1205 1207 1210 1212 1215 " "$out"

out=$(NB_PS=$ps_fix "$SUP/bpps" | grep -c 'vi \|grep \|less ')
check_eq "editors, greps and pagers mentioning daemons are not listed" 0 "$out"
out=$(NB_PS=$ps_fix "$SUP/bpps" -a | grep -c 'defunct')
check_eq "zombies (<defunct>) are not listed" 0 "$out"

# header-less input (ps -eo user=,...) must not lose its first line
out=$(NB_PS="grep -e bptm -e Dec20 $FIX/ps-master.txt" NB_VMPS=/bin/true "$SUP/bpps")
check_eq "first line kept when there is no header" \
	"root      2001 Dec20 /usr/openv/netbackup/bin/bpcd -standalone
root      2101 10:15 /usr/openv/netbackup/bin/bptm -w -c client1" "$out"

# copied into a NetBackup tree, bpps finds the vmps of that tree
t=$(mktemp -d)
mkdir -p "$t/openv/netbackup/bin" "$t/openv/volmgr/bin"
cp "$SUP/bpps" "$t/openv/netbackup/bin/bpps"
cp "$SUP/vmps" "$t/openv/volmgr/bin/vmps"
out=$(NB_PS=$ps_fix "$t/openv/netbackup/bin/bpps")
check_eq "bpps in <root>/netbackup/bin calls <root>/volmgr/bin/vmps" "$bp_expected
$vm_expected" "$out"
rm -f "$t/openv/volmgr/bin/vmps"
out=$(NB_PS=$ps_fix "$t/openv/netbackup/bin/bpps" 2>&1); rc=$?
check_rc "bpps without any vmps exits 3" 3 $rc "$out"
check_has "... and says vmps was not found" "vmps not found" "$out"
rm -rf "$t"

for p in bpps vmps; do
	out=$("$SUP/$p" --help); rc=$?
	check_rc "$p --help exits 0" 0 $rc "$out"
	check_has "$p --help shows usage" "^Usage: $p" "$out"
	out=$("$SUP/$p" --bogus 2>&1); rc=$?
	check_rc "$p --bogus exits 2" 2 $rc "$out"
	check_has "$p names the unknown option" "$p: unknown option '--bogus'" "$out"
	out=$(NB_PS=false "$SUP/$p" 2>&1); rc=$?
	check_rc "$p exits 1 when ps fails" 1 $rc "$out"
	check_has "$p names the failed ps command" "$p: ps command failed: false" "$out"
done

# live ps: a process whose program is called bprd/ltid must be found
t=$(mktemp -d)
ln -s "$(command -v sleep)" "$t/bprd"
ln -s "$(command -v sleep)" "$t/ltid"
"$t/bprd" 60 &
bprd_pid=$!
"$t/ltid" 60 &
ltid_pid=$!
sleep 0.2
out=$("$SUP/bpps")
check_has "live: bpps (default ps) lists the running bprd with its pid" "^[^ ]+ +$bprd_pid +[^ ]+ +$t/bprd 60\$" "$out"
check_has "live: bpps lists the running ltid via vmps" "^[^ ]+ +$ltid_pid +[^ ]+ +$t/ltid 60\$" "$out"
out=$("$SUP/vmps" | awk '{print $2}')
check_has "live: vmps pid column is the ltid pid" "^$ltid_pid\$" "$out"
kill "$bprd_pid" "$ltid_pid" 2>/dev/null
wait 2>/dev/null
rm -rf "$t"
