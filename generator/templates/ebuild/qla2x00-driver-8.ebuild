{{> partials/ebuild-head}}

inherit nb-kernel

{{> partials/ebuild-vars}}

{{> partials/config-check}}

pkg_nofetch() {
	eerror "QLogic's driver archive cannot be downloaded automatically."
	eerror "Download the {{package.vars.series_2_6.driver}} driver for Linux {{version.kernel_series}} from QLogic's"
	eerror "support site ({{package.vars.download_page}}), save it in your"
	eerror "distfiles directory (DISTDIR in make.conf, /usr/portage/distfiles by default)"
	eerror "as ${A}, and run emerge again.  (The file name QLogic used for this"
	eerror "release is not confirmed; if yours differs, rename it to ${A}.)"
{{> partials/unpinned}}
}

pkg_setup() {
	nb-kernel_setup
	nb-kernel_require_series {{version.kernel_series}} \
		"For a 2.4 kernel emerge the 7.x driver: emerge '<{{package.category}}/{{package.name}}-8'"
	# qla_os.c declares kmem_cache_t, removed after 2.6.19 ("Slab: Remove
	# kmem_cache_t", Christoph Lameter, linux-mm, 28 Nov 2006, against
	# 2.6.19-rc5-mm2); the first release without it is uncertain (2.6.20 expected).
	nb-kernel_require_at_most {{package.vars.series_2_6.max_kernel}} \
		"Later kernels dropped kmem_cache_t, which the driver's qla_os.c uses (removed after 2.6.19; the exact release is uncertain). Use a kernel up to {{package.vars.series_2_6.max_kernel}}, or the kernel's own qla2xxx driver (CONFIG_SCSI_QLA_FC) instead of this package."
	case ${NB_KV} in
		{{package.vars.series_2_6.max_kernel}})
			ewarn "Building on ${NB_KV} is not confirmed: the driver's source has cases for it,"
			ewarn "but it was only seen to build up to 2.6.18." ;;
	esac
	nb-kernel_check_config
	nb-kernel_intermodule {{package.vars.series_2_6.intermodule_patch}}
}

src_unpack() {
	unpack ${A}
	local makefile
	# The driver's top directory is the one whose Makefile builds qla2xxx.
	makefile=$(grep -l "qla2xxx" "${WORKDIR}"/*/Makefile 2>/dev/null | head -n 1)
	[ -n "${makefile}" ] || die "no qla2xxx Makefile in ${A}: is it QLogic's 8.x driver for Linux 2.6?"
	NB_DRIVER_DIR=${makefile%/Makefile}
	einfo "Driver sources in ${NB_DRIVER_DIR#${WORKDIR}/}"
}

# Kernel modules are built by the kernel's own build system; portage's ARCH
# (x86, amd64) means something else to it, so it is left out of the call.
nb_kbuild() {
	env -u ARCH make -C "${KERNEL_DIR}" M="$1" modules \
		|| die "building the modules in ${1#${WORKDIR}/} against ${KERNEL_DIR} failed"
}

src_compile() {
	[ -n "${NB_DRIVER_DIR}" ] || NB_DRIVER_DIR=$(dirname "$(grep -l qla2xxx "${WORKDIR}"/*/Makefile | head -n 1)")
	nb_kbuild "${NB_DRIVER_DIR}"
	if [ "${NB_INTERMODULE}" = module ]; then
		# From 2.6.18 the kernel has no inter_module_*; the driver ships a copy
		# of the kernel's old intermodule.c, built here as a module of its own.
		[ -f "${NB_DRIVER_DIR}/extras/intermodule.c" ] \
			|| die "kernel ${NB_KV} needs the driver's extras/intermodule.c, which ${A} lacks"
		mkdir -p "${WORKDIR}/intermodule" || die "cannot create ${WORKDIR}/intermodule"
		cp "${NB_DRIVER_DIR}/extras/intermodule.c" "${WORKDIR}/intermodule/" \
			|| die "copying extras/intermodule.c failed"
		echo "obj-m := intermodule.o" > "${WORKDIR}/intermodule/Makefile" \
			|| die "writing the intermodule Makefile failed"
		nb_kbuild "${WORKDIR}/intermodule"
	fi
}

src_install() {
	local m dir
	dir=$(nb-kernel_moddir)
	insinto "${dir}"
	for m in {{join package.vars.series_2_6.modules " "}}; do
		[ -f "${NB_DRIVER_DIR}/${m}.ko" ] || die "the build produced no ${m}.ko"
		doins "${NB_DRIVER_DIR}/${m}.ko" || die "installing ${m}.ko failed"
	done
	if [ "${NB_INTERMODULE}" = module ]; then
		doins "${WORKDIR}"/intermodule/intermodule.ko || die "installing intermodule.ko failed"
	fi
	for m in {{join package.vars.series_2_6.tools " "}}; do
		# Host tools are built by kbuild only where the driver's Makefile asks.
		[ -x "${NB_DRIVER_DIR}/extras/${m}" ] || continue
		dosbin "${NB_DRIVER_DIR}/extras/${m}" || die "installing ${m} failed"
	done
	insinto /etc/modules.d
	newins "${FILESDIR}"/qla2x00-driver-{{version.kernel_series}}.modules qla2x00-driver \
		|| die "installing /etc/modules.d/qla2x00-driver failed"
	if [ "${NB_INTERMODULE}" = module ]; then
		# Loaded first, so that qla2xxx_conf and qla2xxx find inter_module_*, and
		# unloaded after them.
		printf '%s\n' "pre-install qla2xxx_conf /sbin/modprobe intermodule" \
			"post-remove qla2xxx_conf /sbin/modprobe -r intermodule" \
			>> "${D}"/etc/modules.d/qla2x00-driver \
			|| die "adding intermodule to /etc/modules.d/qla2x00-driver failed"
	fi
}

pkg_postinst() {
	nb-kernel_restore {{package.vars.series_2_6.intermodule_patch}}
	nb-kernel_update_depmod
	nb-kernel_update_moduledb
	elog "The QLogic {{package.vars.series_2_6.driver}} modules are in $(nb-kernel_moddir)."
	elog "qla2xxx is the driver's core; the chip module of your HBA binds it:"
{{#each package.vars.series_2_6.chips}}
	elog "  {{this.module}}  {{this.hbas}}"
{{/each}}
	elog "(lspci -n lists a QLogic HBA as 1077:<ISP>.)  Run modules-update (it writes"
	elog "/etc/modules.d into modprobe.conf), then load the chip module, e.g. for an ISP2312:"
	elog "  modprobe qla2300"
	elog "/etc/modules.d/qla2x00-driver names qla2300 in scsi_hostadapter1 and loads"
	elog "qla2xxx_conf before qla2xxx (and unloads it after); name your chip module there."
	elog "netbackup-support's 'nb-sysfiles apply modules' adds the chip module of the HBA"
	elog "it finds to /etc/modules.autoload.d/kernel-{{version.kernel_series}}, to load it at boot."
{{> partials/hba-settings}}
	if [ -e "${ROOT%/}/etc/qla2xxx.conf" ]; then
		ewarn "${ROOT%/}/etc/qla2xxx.conf (persistent binding, failover) is not in the new"
		ewarn "qla2xxx_conf.ko yet.  Write it there, as QLogic's installer does, now and"
		ewarn "after every rebuild of this package, on the system itself:"
		ewarn "  emerge --config =${CATEGORY}/${PF}"
	else
		elog "No /etc/qla2xxx.conf: qla2xxx_conf.ko holds no persistent binding or failover"
		elog "data.  After saving such data there (SANsurfer does), write it into the module:"
		elog "  emerge --config =${CATEGORY}/${PF}"
	fi
	nb-kernel_intermodule_alternative elog
	elog "Rebuild this package after every kernel rebuild: emerge --oneshot ${CATEGORY}/${PN}"
	elog "(module-rebuild rebuild, from sys-kernel/module-rebuild, does it for every package"
	elog "on its list, this one included), then run emerge --config again."
}

# The installed qla2xxx_conf.ko, as the package's CONTENTS lists it.
nb_conf_module() {
	local contents="${ROOT%/}/var/db/pkg/${CATEGORY}/${PF}/CONTENTS"
	[ -r "${contents}" ] || die "${CATEGORY}/${PF} is not installed in ${ROOT} (no ${contents})"
	sed -n -e 's:^obj \(/lib/modules/[^ ]*/qla2xxx_conf\.ko\) .*:\1:p' "${contents}" | head -n 1
}

# QLogic's installer writes /etc/qla2xxx.conf (persistent binding, failover)
# into the installed qla2xxx_conf module with qla_opts (extras/build.sh); here
# it is a step of its own, run on the system whose file it is, never a build
# host's.  qla_opts reads only /etc/qla2xxx.conf, whatever ROOT is.
pkg_config() {
	local module
	[ -z "${ROOT%/}" ] \
		|| die "qla_opts reads /etc/qla2xxx.conf, not ${ROOT%/}/etc/qla2xxx.conf: run emerge --config ${CATEGORY}/${PN} on the system in ${ROOT} itself"
	[ -f /etc/qla2xxx.conf ] \
		|| die "there is no /etc/qla2xxx.conf (or it is not a file) to write into qla2xxx_conf.ko: save the HBA's data there"
	[ -x /usr/sbin/qla_opts ] \
		|| die "/usr/sbin/qla_opts is missing: this build of the driver did not make it, so /etc/qla2xxx.conf cannot be written into qla2xxx_conf.ko"
	module=$(nb_conf_module)
	[ -n "${module}" ] && [ -f "${module}" ] \
		|| die "qla2xxx_conf.ko of ${CATEGORY}/${PF} is missing${module:+ (${module})}: emerge --oneshot ${CATEGORY}/${PN} again"
	einfo "Writing /etc/qla2xxx.conf into ${module} (qla_opts -w qla2xxx_conf)"
	/usr/sbin/qla_opts -w --file="${module}" qla2xxx_conf \
		|| die "qla_opts -w qla2xxx_conf could not write /etc/qla2xxx.conf into ${module}: check that file"
	einfo "Done.  The data takes effect when qla2xxx_conf is next loaded (unload the chip"
	einfo "module, qla2xxx and qla2xxx_conf, or reboot).  The module now differs from what"
	einfo "was merged, so emerge --unmerge leaves it: remove ${module} by hand then."
}

pkg_postrm() {
	nb-kernel_remove_moduledb
}
