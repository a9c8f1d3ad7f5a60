{{> partials/ebuild-head}}

inherit nb-kernel

{{> partials/ebuild-vars}}

{{> partials/config-check}}

pkg_nofetch() {
	eerror "QLogic's driver archive cannot be downloaded automatically."
	eerror "Download the {{package.vars.series_2_6.driver}} driver for Linux 2.6 from QLogic's"
	eerror "support site ({{package.vars.download_page}}), save it in your"
	eerror "distfiles directory (DISTDIR in make.conf, /usr/portage/distfiles by default)"
	eerror "as ${A}, and run emerge again.  (The file name QLogic used for this"
	eerror "release is not confirmed; if yours differs, rename it to ${A}.)"
{{> partials/unpinned}}
}

pkg_setup() {
	nb-kernel_setup
	nb-kernel_require_series 2.6 \
		"For a 2.4 kernel emerge the 7.x driver: emerge '<{{package.category}}/{{package.name}}-8'"
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
	local m
	insinto /lib/modules/${NB_KV_RELEASE}/kernel/drivers/scsi/qla2xxx
	for m in {{join package.vars.series_2_6.modules " "}}; do
		[ -f "${NB_DRIVER_DIR}/${m}.ko" ] || die "the build produced no ${m}.ko"
		doins "${NB_DRIVER_DIR}/${m}.ko" || die "installing ${m}.ko failed"
	done
	if [ "${NB_INTERMODULE}" = module ]; then
		insinto /lib/modules/${NB_KV_RELEASE}/kernel/kernel
		doins "${WORKDIR}"/intermodule/intermodule.ko || die "installing intermodule.ko failed"
	fi
	for m in {{join package.vars.series_2_6.tools " "}}; do
		# Host tools are built by kbuild only where the driver's Makefile asks.
		[ -x "${NB_DRIVER_DIR}/extras/${m}" ] || continue
		dosbin "${NB_DRIVER_DIR}/extras/${m}" || die "installing ${m} failed"
	done
	insinto /etc/modules.d
	newins "${FILESDIR}"/qla2x00-driver-2.6.modules qla2x00-driver \
		|| die "installing /etc/modules.d/qla2x00-driver failed"
	if [ "${NB_INTERMODULE}" = module ]; then
		# Loaded first, so that qla2xxx_conf and qla2xxx find inter_module_*.
		echo "pre-install qla2xxx_conf /sbin/modprobe intermodule" \
			>> "${D}"/etc/modules.d/qla2x00-driver \
			|| die "adding intermodule to /etc/modules.d/qla2x00-driver failed"
	fi
}

pkg_postinst() {
	elog "The QLogic {{package.vars.series_2_6.driver}} modules are in /lib/modules/${NB_KV_RELEASE}."
	elog "Run modules-update (it also runs depmod), then load the driver:"
	elog "  modprobe qla2xxx"
	elog "Add qla2xxx to /etc/modules.autoload.d/kernel-2.6 to load it at boot."
	elog "Rebuild this package after every kernel rebuild: emerge --oneshot ${CATEGORY}/${PN}"
}
