# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: the X11 client library that the libsdl
# stand-in depends on, so that an SDL dependency shows X11 in `emerge -p`. It
# installs nothing; the version is only a plausible one.

EAPI=8

DESCRIPTION="Test stand-in for x11-libs/libX11 (X11 client library); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="amd64 x86"
