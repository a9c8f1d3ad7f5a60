# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: it exists so that the nb-overlay CI
# master resolves virtual/libc in dependencies. It installs nothing.

EAPI=8

DESCRIPTION="Test stand-in for virtual/libc (virtual for the C library); installs nothing"
S="${WORKDIR}"
SLOT="0"
KEYWORDS="amd64 x86"
RDEPEND="sys-libs/glibc"
