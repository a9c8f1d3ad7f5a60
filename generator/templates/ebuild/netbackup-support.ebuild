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
	doins "${FILESDIR}"/modules.devfsd || die "installing devfsd's SCSI entries failed"
	doins "${FILESDIR}"/hosts.allow || die "installing the hosts.allow lines failed"
	# Executable: modules-update runs it for the kernel it writes for (2.4 or 2.6).
	exeinto /etc/modules.d
	newexe "${FILESDIR}"/netbackup-scsi.modules netbackup || die "installing /etc/modules.d/netbackup failed"
	doenvd "${FILESDIR}"/99netbackup || die "installing the env.d file for root's PATH failed"

	insinto /etc/xinetd.d
	newins "${FILESDIR}"/bpcd.xinetd bpcd || die "installing /etc/xinetd.d/bpcd failed"
	insinto /etc/devfs.d
	newins "${FILESDIR}"/netbackup.devfs netbackup || die "installing /etc/devfs.d/netbackup failed"
}

# The kernel in /usr/src/linux, if any: whether scsi_mod is built in, where
# /etc/modules.d cannot give it options.
nb_scsi_builtin() {
	local config="${ROOT%/}/usr/src/linux/.config"
	[ -r "${config}" ] && grep -q '^CONFIG_SCSI=y$' "${config}"
}

# xinetd consults /etc/hosts.allow only when built with tcp_wrappers (USE=tcpd);
# the USE flags it was built with are in the package database.
nb_xinetd_unguarded() {
	local use
	for use in "${ROOT%/}"/var/db/pkg/sys-apps/xinetd-*/USE; do
		[ -r "${use}" ] || continue
		case " $(cat "${use}") " in
			*" tcpd "*) return 1 ;;
		esac
		return 0
	done
	return 1
}

pkg_postinst() {
	elog "What is left for you to do, as root:"
	elog "1. Add NetBackup's settings to the system files other packages own"
	elog "   (sysctl.conf, services, hosts.allow, modules.autoload.d with the chip"
	elog "   module of the QLogic HBA it finds, devfsd's modules.devfsd); it shows"
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
	elog "6. Check that NetBackup sees the library's robot and drives under those names:"
	elog "     /usr/openv/volmgr/bin/tpautoconf -a"
	elog "   (a TPAC line per drive and robot, with its /dev/st/ or /dev/sg/ name)"
	if nb_scsi_builtin; then
		ewarn "The kernel in ${ROOT%/}/usr/src/linux has scsi_mod built in (CONFIG_SCSI=y), so"
		ewarn "/etc/modules.d/netbackup cannot set its options; put them on the kernel"
		ewarn "command line (in grub.conf or lilo.conf) instead:"
		ewarn "  2.6: scsi_mod.max_luns=256      2.4: max_scsi_luns=256"
	fi
	if nb_xinetd_unguarded; then
		ewarn "xinetd was built without tcp_wrappers (USE=tcpd), so /etc/hosts.allow does"
		ewarn "not decide who may reach bpcd, which runs as root.  Name your NetBackup"
		ewarn "master and media servers in the only_from line of /etc/xinetd.d/bpcd, or"
		ewarn "rebuild xinetd with USE=tcpd."
	fi
}
