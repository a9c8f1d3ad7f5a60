# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: ::gentoo's lib-compat 1.4 had IUSE="sdl" and an SDL
# dependency, and the same version as nb-overlay's. The ebuild tests check that emerge picks
# nb-overlay's ebuild over this one. It installs nothing.

EAPI=8

DESCRIPTION="Test stand-in for ::gentoo's sys-libs/lib-compat-1.4 (with SDL); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="x86"
IUSE="sdl"
RDEPEND="sdl? ( media-libs/libsdl )"
