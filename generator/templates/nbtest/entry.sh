set -u
conf=/etc/portage/make.conf
[ -f "$conf" ] || conf=/etc/make.conf
# portage 2.1's portageq knows no get_repo_path: it prints its usage and exits 0.
if [ -d /etc/portage/repos.conf ]; then
	gentoo=$(portageq get_repo_path / gentoo 2>/dev/null) || gentoo=""
else
	gentoo=$(portageq portdir 2>/dev/null) || gentoo=""
fi
[ -n "$gentoo" ] || gentoo=/usr/portage
if [ -d /etc/portage/repos.conf ]; then
	ln -sfn "$gentoo/profiles/"{{profile}} /etc/portage/make.profile || exit 3
	printf '[nb-overlay]\nlocation = /var/db/repos/nb-overlay\nauto-sync = no\n' >/etc/portage/repos.conf/nb-overlay.conf || exit 3
else
	ln -sfn "$gentoo/profiles/"{{profile}} /etc/make.profile || exit 3
	echo 'PORTDIR_OVERLAY="/var/db/repos/nb-overlay"' >>"$conf" || exit 3
fi
mkdir -p /out/logs /out/build-logs /out/packages /out/contents
cat >>"$conf" <<'EOF'
ACCEPT_KEYWORDS="{{keywords}}"
USE="{{use_flags}}"
FEATURES="${FEATURES} buildpkg"
PKGDIR="/out/packages"
PORTAGE_LOGDIR="/out/build-logs"
EOF
{{#if refuse}}
nb_dist=/var/tmp/nb-distfiles
mkdir -p "$nb_dist" && cp -pR /var/cache/distfiles/. "$nb_dist/" || exit 3
f="$nb_dist/"{{refuse}}
[ -f "$f" ] || { echo "refuse_distfile: no "{{refuse}}" among the distfiles" >&2; exit 3; }
tr '\000-\377' '\377\000-\376' <"$f" >"$f.new" && mv "$f.new" "$f" || exit 3
echo 'DISTDIR="/var/tmp/nb-distfiles"' >>"$conf" || exit 3
{{/if}}
{{#if prepare_kernel}}
(cd /usr/src/linux && yes '' | make oldconfig && make modules_prepare) >/out/kernel-prepare.log 2>&1 || { echo 'kernel: make oldconfig/modules_prepare failed' >&2; exit 3; }
{{/if}}
{{#if setup}}
{{{setup}}}
{{/if}}
emerge --info >/out/emerge-info.txt 2>&1
{{#each require_features}}
case " $(portageq envvar FEATURES) " in *' {{this}} '*) ;; *) echo 'FEATURES lack {{this}}: see /out/emerge-info.txt' >&2; exit 3 ;; esac
{{/each}}
: >/out/packages.tsv
{{#if expect}}
# What the entry's packages installed: the CONTENTS that their merges wrote after this mark.
: >/var/tmp/nb-start
{{/if}}
i=0
for atom in {{atoms}}; do
	i=$((i + 1))
	start=$(date +%s)
	emerge --oneshot --verbose "$atom" >"/out/logs/$i.emerge.log" 2>&1
	rc=$?
	printf '%s\t%s\t%s\n' "$atom" "$rc" "$(($(date +%s) - start))" >>/out/packages.tsv
done
{{#if config_atoms}}
for atom in {{config_atoms}}; do
	i=$((i + 1))
	start=$(date +%s)
	emerge --config "$atom" </dev/null >"/out/logs/$i.emerge.log" 2>&1
	rc=$?
	printf '%s\t%s\t%s\n' "--config $atom" "$rc" "$(($(date +%s) - start))" >>/out/packages.tsv
done
{{/if}}
{{#each steps}}
# A step: in /, in a bash of its own, so that its exit ends only the step.
i=$((i + 1))
start=$(date +%s)
(cd / && exec bash -c {{this.run}}) </dev/null >"/out/logs/$i.step.log" 2>&1
rc=$?
printf '%s\t%s\t%s\n' {{this.key}} "$rc" "$(($(date +%s) - start))" >>/out/packages.tsv
{{/each}}
for d in /var/db/pkg/*/*; do
	[ -f "$d/CONTENTS" ] || continue
	c=${d%/*}; c=${c##*/}
	cp "$d/CONTENTS" "/out/contents/$c:${d##*/}.CONTENTS"
done
{{#if expect}}
mkdir -p /out/expect/installed /out/expect/files
find /var/db/pkg -mindepth 3 -maxdepth 3 -name CONTENTS -newer /var/tmp/nb-start | while IFS= read -r c; do
	d=${c%/CONTENTS}; p=${d%/*}
	cp "$c" "/out/expect/installed/${p##*/}:${d##*/}.CONTENTS"
done
for f in {{expect_files}}; do
	[ -f "/$f" ] || continue
	mkdir -p "/out/expect/files/$(dirname "$f")" && cp -p "/$f" "/out/expect/files/$f"
done
{{/if}}
{{#if checks}}
mkdir -p /out/checks
kv=$(cat /usr/src/linux/include/config/kernel.release 2>/dev/null)
printf '%s\n' "$kv" >/out/checks/kernel-release
{{#if depmod}}
map=/usr/src/linux/exported-symbols.map
[ -f "$map" ] || map=/usr/src/linux/System.map
depmod -e -F "$map" -b / "$kv" >/out/checks/depmod.log 2>&1; echo $? >/out/checks/depmod.rc
{{/if}}
{{#if load_order_last}}
modprobe -S "$kv" --show-depends {{load_order_last}} >/out/checks/load-order.log 2>&1; echo $? >/out/checks/load-order.rc
{{/if}}
{{/if}}
