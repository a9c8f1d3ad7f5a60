# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: it exists so that the nb-overlay CI
# master resolves app-arch/mt-st in dependencies. It installs nothing.

EAPI=8

DESCRIPTION="Test stand-in for app-arch/mt-st (magnetic tape control); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="amd64 x86"
