{{> partials/ebuild-head}}

{{> partials/ebuild-vars}}

{{> partials/elog-compat}}

# The tools run by root and the init scripts; bpps and vmps are NetBackup's names
# and go beside the package's other files, switched in by nb-switch-ps.
src_install() {
	local f
	exeinto /usr/libexec/${PN}
	for f in bpps vmps; do
		doexe "${FILESDIR}"/${f} || die "installing ${f} failed"
	done
	for f in nb-switch-ps nb-sysfiles nb-devlinks; do
		dosbin "${FILESDIR}"/${f} || die "installing ${f} failed"
	done

	newinitd "${FILESDIR}"/netbackup.initd netbackup || die "installing the netbackup init script failed"
	newconfd "${FILESDIR}"/netbackup.confd netbackup || die "installing /etc/conf.d/netbackup failed"
	newinitd "${FILESDIR}"/nb-devlinks.initd nb-devlinks || die "installing the nb-devlinks init script failed"
	newconfd "${FILESDIR}"/nb-devlinks.confd nb-devlinks || die "installing /etc/conf.d/nb-devlinks failed"

	insinto /usr/share/${PN}
	doins "${FILESDIR}"/sysctl-netbackup.conf || die "installing the sysctl settings failed"
	# Executable: modules-update runs it for the kernel it writes for (2.4 or 2.6).
	exeinto /etc/modules.d
	newexe "${FILESDIR}"/netbackup-scsi.modules netbackup || die "installing /etc/modules.d/netbackup failed"
	doenvd "${FILESDIR}"/99netbackup || die "installing the env.d file for root's PATH failed"

	insinto /etc/xinetd.d
	newins "${FILESDIR}"/bpcd.xinetd bpcd || die "installing /etc/xinetd.d/bpcd failed"
	insinto /etc/devfs.d
	newins "${FILESDIR}"/netbackup.devfs netbackup || die "installing /etc/devfs.d/netbackup failed"
}

pkg_postinst() {
	elog "What is left for you to do, as root:"
	elog "1. Add NetBackup's settings to the system files other packages own"
	elog "   (sysctl.conf, services, hosts.allow, modules.autoload.d); it shows"
	elog "   each change, and 'nb-sysfiles revert' takes them out again:"
	elog "     nb-sysfiles apply"
	elog "2. Load them: modules-update && sysctl -p && env-update && source /etc/profile"
	elog "3. Swap NetBackup's bpps and vmps for ones that work with today's ps"
	elog "   (the originals are kept; 'nb-switch-ps --revert' restores them):"
	elog "     nb-switch-ps"
	elog "4. Make the device names NetBackup is configured with (see --help):"
	elog "     on devfs (2.4): rc-update add nb-devlinks default"
	elog "     on udev: nb-devlinks --udev-rules /etc/udev/rules.d/65-netbackup.rules"
	elog "5. Start NetBackup at boot: rc-update add netbackup default"
	elog "   (xinetd starts bpcd: /etc/init.d/xinetd restart)"
}
