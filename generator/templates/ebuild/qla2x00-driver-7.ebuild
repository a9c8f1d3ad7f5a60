{{> partials/ebuild-head}}

inherit nb-kernel

{{> partials/ebuild-vars}}

{{> partials/config-check}}

pkg_nofetch() {
	eerror "QLogic's driver archive cannot be downloaded automatically."
	eerror "Download the {{package.vars.series_2_4.driver}} driver for Linux {{version.kernel_series}} from QLogic's"
	eerror "support site ({{package.vars.download_page}}), save it in your"
	eerror "distfiles directory (DISTDIR in make.conf, /usr/portage/distfiles by default)"
	eerror "as ${A}, and run emerge again."
{{> partials/unpinned}}
}

pkg_setup() {
	nb-kernel_setup
	nb-kernel_require_series {{version.kernel_series}} \
		"For a 2.6 kernel emerge the 8.x driver: emerge '>={{package.category}}/{{package.name}}-8'"
	nb-kernel_check_config
	# QLogic's readme and the HOWTO build with OSVER=linux, which names the tree
	# under /usr/src the driver's Makefile uses; that it is exactly /usr/src/linux
	# is not confirmed, so this warns rather than stops.
	if [ ! "${KERNEL_DIR}" -ef "${ROOT%/}/usr/src/linux" ]; then
		ewarn "The 7.x driver is built with OSVER=linux, as QLogic's readme says; if its"
		ewarn "Makefile builds against /usr/src/linux, point that link at ${KERNEL_DIR}."
	fi
}

src_unpack() {
	unpack ${A}
	local inner
	# QLogic's dist archive wraps the driver sources in a tarball of their own
	# (qla2x00src-v<version>.tgz) next to its installer scripts; its directory
	# layout varies, so search for it.
	inner=$(find "${WORKDIR}" -name 'qla2x00src-*.tgz' | head -n 1)
	[ -n "${inner}" ] || die "no qla2x00src-*.tgz inside ${A}: is it QLogic's 7.x dist archive?"
	einfo "Driver sources: ${inner#${WORKDIR}/}"
	mkdir -p "${WORKDIR}/src" || die "cannot create ${WORKDIR}/src"
	tar -xzf "${inner}" -C "${WORKDIR}/src" || die "unpacking ${inner#${WORKDIR}/} failed"
}

src_compile() {
	local makefile dir
	makefile=$(find "${WORKDIR}/src" -name Makefile | head -n 1)
	[ -n "${makefile}" ] || die "no Makefile in the driver sources from ${A}"
	dir=${makefile%/Makefile}
	cd "${dir}" || die "cannot enter ${dir}"
	# SMP=1 exactly when the kernel is SMP: the HOWTO left it to the user.
	if [ "${NB_KV_SMP}" = 1 ]; then
		make all SMP=1 OSVER=linux || die "building the driver (SMP=1 OSVER=linux) failed"
	else
		make all OSVER=linux || die "building the driver (OSVER=linux) failed"
	fi
}

src_install() {
	local m f
	insinto "$(nb-kernel_moddir)"
	for m in {{join package.vars.series_2_4.modules " "}}; do
		f=$(find "${WORKDIR}/src" -name "${m}.o" | head -n 1)
		[ -n "${f}" ] || die "the build produced no ${m}.o"
		doins "${f}" || die "installing ${m}.o failed"
	done
	insinto /etc/modules.d
	newins "${FILESDIR}"/qla2x00-driver-{{version.kernel_series}}.modules qla2x00-driver \
		|| die "installing /etc/modules.d/qla2x00-driver failed"
}

pkg_postinst() {
	nb-kernel_restore
	nb-kernel_update_depmod
	nb-kernel_update_moduledb
	elog "The QLogic {{package.vars.series_2_4.driver}} modules are in $(nb-kernel_moddir)."
	elog "A module per chip family binds the HBA (lspci -n lists it as 1077:<ISP>):"
{{#each package.vars.series_2_4.chips}}
	elog "  {{this.module}}  {{this.hbas}}"
{{/each}}
	elog "Run modules-update (it writes /etc/modules.d/qla2x00-driver into modules.conf),"
	elog "then load the chip module, e.g. for an ISP2312:"
	elog "  modprobe qla2300"
	elog "/etc/modules.d/qla2x00-driver names qla2300, the HOWTO's; name your chip module"
	elog "there.  netbackup-support's 'nb-sysfiles apply modules' adds the chip module of"
	elog "the HBA it finds to /etc/modules.autoload.d/kernel-{{version.kernel_series}}, to load it at boot."
{{> partials/hba-settings}}
	elog "Rebuild this package after every kernel rebuild: emerge --oneshot ${CATEGORY}/${PN}"
	elog "(module-rebuild rebuild, from sys-kernel/module-rebuild, does it for every package"
	elog "on its list, this one included)."
}

pkg_postrm() {
	nb-kernel_remove_moduledb
}
