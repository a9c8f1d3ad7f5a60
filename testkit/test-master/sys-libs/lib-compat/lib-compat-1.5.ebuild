# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: today's ::gentoo lib-compat. What is
# taken from ::gentoo's history (shared/facts.md): version 1.5 (2017), EAPI 6,
# no SDL at all, installs only libstdc++-libc6.2-2.so.3. Assumed, not known:
# the keywords. It installs nothing. The ::gentoo of earlier years is in
# ci/test-master-eras/.

EAPI=6

DESCRIPTION="Test stand-in for ::gentoo's sys-libs/lib-compat-1.5 (no SDL); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="-* amd64 x86"
RDEPEND="sys-libs/glibc"
