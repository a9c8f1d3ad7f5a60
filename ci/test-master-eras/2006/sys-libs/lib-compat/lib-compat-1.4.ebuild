# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: ::gentoo's lib-compat 1.4 as the 2012
# text has it (shared/facts.md): IUSE="sdl", RDEPEND="sys-libs/glibc sdl? (
# media-libs/libsdl )". When between 2004 and 2012 the hard-coded SDL became
# a USE flag is not known; this era takes the 2012 form. Keywords as in 2004.
# It installs nothing.

EAPI=8

DESCRIPTION="Test stand-in for ::gentoo's sys-libs/lib-compat-1.4 (IUSE=sdl); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="x86 ppc sparc alpha"
IUSE="sdl"
RDEPEND="sys-libs/glibc
	sdl? ( media-libs/libsdl )"
