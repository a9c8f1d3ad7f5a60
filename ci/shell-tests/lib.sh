# shellcheck shell=bash
# Helpers sourced by the ci/shell-tests/test-*.sh files.  Each check
# appends "pass|fail|skip<TAB>name" to $NB_RESULTS, which run counts.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# used by the test files that source this one
# shellcheck disable=SC2034
SUP=${NB_SHIPPED_DIR:?run the tests through ci/shell-tests/run}
# nb-sysfiles copies its fixed blocks from files the package installs.
export NB_DATA_DIR=$SUP
# nb-sysfiles looks for the QLogic HBA there; the test machine's own PCI bus
# must not decide what the tests see (test-sysfiles-chip.sh gives its own).
export NB_PCI_DEVICES=/dev/null
# shellcheck disable=SC2034
FIX=$repo/ci/shell-tests/fixtures
: "${NB_RESULTS:=/dev/null}"

_record() {
	printf '%s\t%s\n' "$1" "$2" >>"$NB_RESULTS"
}

pass() {
	echo "PASS: $1"
	_record pass "$1"
}

# fail NAME DETAILS...
fail() {
	local name=$1
	shift
	echo "FAIL: $name"
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/    /'
	_record fail "$name"
}

skip() {
	echo "SKIP: $1${2:+ ($2)}"
	_record skip "$1"
}

# check NAME CMD...: passes when CMD exits 0
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "command: $*" "$out"
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected:" "$2" "actual:" "$3"
	fi
}

# check_rc NAME EXPECTED_RC ACTUAL_RC [OUTPUT]
check_rc() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected exit $2, got $3" "${4:-}"
	fi
}

# check_has NAME PATTERN TEXT: TEXT contains a line matching PATTERN (ERE)
check_has() {
	if grep -Eq -- "$2" <<<"$3"; then
		pass "$1"
	else
		fail "$1" "no line matching /$2/ in:" "$3"
	fi
}

check_lacks() {
	if grep -Eq -- "$2" <<<"$3"; then
		fail "$1" "unexpected line matching /$2/ in:" "$3"
	else
		pass "$1"
	fi
}

# tree_state DIR: listing of everything under DIR (type, mode, link target,
# checksum) to compare before/after
tree_state() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
		if [ -L "$p" ]; then
			printf '%s l %s\n' "$p" "$(readlink "$p")"
		elif [ -f "$p" ]; then
			printf '%s f %s %s\n' "$p" "$(stat -c %a "$p")" "$(md5sum <"$p" | cut -d' ' -f1)"
		else
			printf '%s d %s\n' "$p" "$(stat -c %a "$p")"
		fi
	done)
}
