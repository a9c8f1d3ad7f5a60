# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: ::gentoo's lib-compat 1.4.1, added 15
# May 2006 and stable on x86 21 May 2006, with IUSE="sdl" and RDEPEND
# "sys-libs/glibc sdl? ( media-libs/libsdl )" as its 2012 text has it
# (shared/facts.md). Keywords other than x86 are not known. It installs
# nothing.

EAPI=8

DESCRIPTION="Test stand-in for ::gentoo's sys-libs/lib-compat-1.4.1 (IUSE=sdl); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="x86"
IUSE="sdl"
RDEPEND="sys-libs/glibc
	sdl? ( media-libs/libsdl )"
