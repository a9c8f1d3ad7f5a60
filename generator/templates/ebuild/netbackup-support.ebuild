{{> partials/ebuild-head}}

{{> partials/ebuild-vars}}

src_install() {
	insinto /usr/share/${PN}
	doins "${FILESDIR}"/sysctl-netbackup.conf || die "installing the sysctl settings failed"
	doenvd "${FILESDIR}"/99netbackup || die "installing the env.d file for root's PATH failed"
}

pkg_postinst() {
	elog "NetBackup's commands are now on root's PATH once you run:"
	elog "  env-update && source /etc/profile"
	elog "The kernel tuning NetBackup needs is in /usr/share/${PN}/sysctl-netbackup.conf;"
	elog "apply it now with: sysctl -p /usr/share/${PN}/sysctl-netbackup.conf"
}
