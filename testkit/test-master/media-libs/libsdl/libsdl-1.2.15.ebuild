# Copyright 2026 nb-overlay authors
# Distributed under the terms of the GNU General Public License v2

# Test stand-in, not the real package: it exists so that the SDL dependency of
# ::gentoo's old lib-compat (ci/test-master-eras/) resolves, and shows in
# `emerge -p` with the X11 it drags in, which is what the tests look for. It
# installs nothing; the version is only a plausible one.

EAPI=8

DESCRIPTION="Test stand-in for media-libs/libsdl (Simple DirectMedia Layer); installs nothing"
HOMEPAGE="https://nb-overlay.example.invalid/test-master"
S="${WORKDIR}"
LICENSE="GPL-2"
SLOT="0"
KEYWORDS="amd64 x86"
RDEPEND="x11-libs/libX11"
