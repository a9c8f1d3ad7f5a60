{{> partials/ebuild-head}}

{{> partials/ebuild-vars}}

# The layout below is lib-compat 1.4's (shared/facts.md). The 1.4.1 and 1.4.2
# tarballs are assumed to share it (not confirmed); 1.4.2 dropped libraries
# nobody used, so every file but the one NetBackup needs may be absent.
src_unpack() {
	unpack ${A}
	cd "${S}" || die "${P} has no libraries for ARCH=${ARCH}; this package is for x86 only"
	# The library NetBackup 5.1 needs; installed under the name the
	# programs that need it look for, as lib-compat 1.4 did.
	[ -e libstdc++-libc6.2-2.so.3 ] \
		|| die "${A} lacks libstdc++-libc6.2-2.so.3, the library NetBackup needs; check the file against the Manifest"
	mv -f libstdc++-libc6.2-2.so.3 libstdc++-3-libc6.2-2-2.10.0.so \
		|| die "renaming libstdc++-libc6.2-2.so.3 failed"
	# No package provides the real library, so the placeholder becomes it.
	if [ -e libstdc++.so.2.9.dummy ]; then
		mv -f libstdc++.so.2.9.dummy libstdc++.so.2.9.0 \
			|| die "renaming libstdc++.so.2.9.dummy failed"
	fi
	# libstdc++-libc6.1-1.so.2 is provided elsewhere; the smpeg placeholder is
	# what dragged SDL in, and nothing here needs it.
	rm -f libstdc++-libc6.1-1.so.2 libsmpeg-0.4.so.0.dummy \
		|| die "removing unused libraries failed"
}

src_install() {
	if use x86 && [ -e ld-linux.so.1 ]; then
		# libc5 programs look for their dynamic linker in /lib.
		into /
		dolib.so ld-linux.so.1* || die "installing ld-linux.so.1 failed"
		rm -f ld-linux.so.1* || die "removing the installed ld-linux.so.1 copies failed"
	fi
	into /usr
	dolib.so *.so* || die "installing the compatibility libraries failed"
	# NetBackup's programs ask for libstdc++-libc6.2-2.so.3 by that name: a link the package
	# owns, rather than one ldconfig may or may not make, which nothing would remove.
	dosym libstdc++-3-libc6.2-2-2.10.0.so /usr/lib/libstdc++-libc6.2-2.so.3 \
		|| die "linking libstdc++-libc6.2-2.so.3 to the renamed library failed"
}
