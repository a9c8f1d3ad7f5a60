# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: ::gentoo's lib-compat 1.4 as the HOWTO
# met it in 2004 (revision 1.2 of 21 Oct 2004, quoted in the HOWTO): KEYWORDS
# "x86 ppc sparc alpha", IUSE empty, and the SDL dependency hard-coded, which
# the HOWTO had to edit out by hand. The HOWTO quotes only its edited copy
# (RDEPEND="virtual/libc"), so the exact form of the hard-coded dependency is
# not known; written here as an unconditional media-libs/libsdl. It installs
# nothing.

EAPI=8

DESCRIPTION="Test stand-in for ::gentoo's sys-libs/lib-compat-1.4 of 2004 (SDL hard-coded); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="x86 ppc sparc alpha"
IUSE=""
RDEPEND="virtual/libc
	media-libs/libsdl"
