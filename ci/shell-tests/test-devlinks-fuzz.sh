#!/usr/bin/env bash
# A bounded, seeded fuzz run of nb-devlinks over its three listing formats
# (fuzz-devlinks.py says what each case checks).  Budget: NB_FUZZ_SECONDS
# (default 60); NB_FUZZ_SEED replays a run, and the seed of every run is
# printed, so a failure in CI reproduces with
#   NB_FUZZ_SEED=S ci/shell-tests/run test-devlinks-fuzz.sh
# shellcheck source=ci/shell-tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	fail "fuzz run of nb-devlinks" "python3 not found (Debian package python3, installed by ci/install-deps)"
	exit 0
fi
out=$(python3 "$repo/ci/shell-tests/fuzz-devlinks.py" --nb-devlinks "$SUP/nb-devlinks" \
	--seconds "${NB_FUZZ_SECONDS:-60}" ${NB_FUZZ_SEED:+--seed "$NB_FUZZ_SEED"} 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/     /'
check_rc "fuzz run of nb-devlinks: no link outside the root, rules only comments and fixed rules, exit 0/1/3" 0 $rc
check_has "... and it ran cases" "^fuzz-devlinks: [1-9][0-9]* cases in" "$out"
