# shellcheck shell=bash
# ci/client-tests/lib.sh: what the client tests share. Sourced; the caller sets `repo`.

n_pass=0 n_fail=0 n_skip=0
pass() { echo "PASS: $1"; n_pass=$((n_pass + 1)); }
fail() { echo "FAIL: $1"; shift; [ $# -eq 0 ] || printf '    %s\n' "$@"; n_fail=$((n_fail + 1)); }
skip() { echo "SKIPPED: $1"; n_skip=$((n_skip + 1)); }
summary() {
    echo "$n_pass passed, $n_fail failed, $n_skip skipped"
    [ "$n_fail" -eq 0 ]
}

# The private portage prefix of ci/install-deps: today's portage, with guards that let only
# `emerge --pretend` run on this host.
tools_env() {
    local env=${NB_TOOLS:-$repo/target/nbtools}/env.sh
    [ -f "$env" ] || { echo "no $env: run ci/install-deps first" >&2; return 1; }
    # shellcheck source=/dev/null
    . "$env"
}

# config_root DIR MASTER PROFILE: a portage configuration root at DIR (for PORTAGE_CONFIGROOT)
# whose ::gentoo is MASTER with make.profile MASTER/profiles/PROFILE, and no other repository;
# make.conf is the private prefix's. Repositories are added as files in DIR/etc/portage/repos.conf.
config_root() {
    local dir=$1 master=$2 profile=$3
    mkdir -p "$dir/etc/portage/repos.conf"
    cp "$NB_TOOLS/etc/portage/make.conf" "$dir/etc/portage/make.conf"
    ln -sfn "$master/profiles/$profile" "$dir/etc/portage/make.profile"
    printf '[DEFAULT]\nmain-repo = gentoo\n\n[gentoo]\nlocation = %s\nauto-sync = no\n' "$master" \
        >"$dir/etc/portage/repos.conf/gentoo.conf"
}
