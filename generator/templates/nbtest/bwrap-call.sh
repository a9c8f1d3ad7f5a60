# The bwrap engine's call, run by sh in a private mount namespace (unshare): mount the stage's
# overlayfs view with a throwaway upper layer, run bwrap over it, then remove the layers.
mount -t overlay overlay -o lowerdir={{lower}},upperdir={{call}}/upper,workdir={{call}}/work {{call}}/merged || exit 125
{{bwrap}}
rc=$?
umount {{call}}/merged
rm -rf {{call}}
exit $rc
