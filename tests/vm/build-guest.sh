#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Builds the qemu guest that runs the Linux iSCSI initiator against utgtd, from Debian packages
# fetched with apt-get download and unpacked with dpkg -x (nothing is installed on the host):
# an uncompressed vmlinux (PVH entry), a small initramfs (busybox + modules) and a read-only
# ext4 image mounted on /usr (open-iscsi, fio, e2fsprogs, sg3-utils, multipath-tools and libs).
# Idempotent: the result is cached under tests/vm/cache/<key>/, keyed by this script, the guest
# init, vmtool.py and the package versions. Prints that directory on stdout; logs on stderr.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${UTGT_VM_CACHE:-$HERE/cache}
PY=/usr/bin/python3
KPKG=linux-image-amd64
# Packages whose files go into the guest; their libraries are found with ldd.
PKGS="busybox-static kmod open-iscsi fio e2fsprogs sg3-utils multipath-tools dmsetup
mt-st mtx tar eject"
# Modules for the initramfs (modprobe --show-depends adds their dependencies).
MODS="virtio_pci virtio_blk virtio_net ext4 crc32c crc32c_generic iscsi_tcp sd_mod sg
crc64_rocksoft_generic dm_multipath dm_round_robin dm_service_time dm_queue_length
scsi_dh_alua"
# Modules in the initramfs that only the scenarios needing them load (scsi_debug would add a
# disk to every scenario).
MODS_LATER="scsi_debug"
# Optical, tape and changer drivers: the devices scenario loads them.
MODS_LATER="$MODS_LATER sr_mod cdrom isofs st ch"
# Programs for the image, as paths inside the unpacked packages.
BINS="sbin/iscsid sbin/iscsiadm sbin/iscsi-iname usr/bin/fio sbin/multipath sbin/multipathd
sbin/dmsetup sbin/mke2fs sbin/e2fsck sbin/dumpe2fs sbin/tune2fs
bin/mt-st usr/sbin/mtx bin/tar usr/bin/eject"

log() { echo "build-guest: $*" >&2; }
die() { log "$*"; exit 1; }

# Candidate versions, looked up in one apt-cache call per batch (each call costs ~1 s).
VERS=$(mktemp)
trap 'rm -f "$VERS"' EXIT
lookup() {
	apt-cache policy "$@" 2>/dev/null | awk '/^[^ ].*:$/ { sub(/:$/, ""); p = $0 }
		/Candidate:/ { print p, $2 }' >>"$VERS"
}
candidate() {
	grep -q "^$1 " "$VERS" || lookup "$1"
	awk -v p="$1" '$1 == p { print $2; exit }' "$VERS"
}

apt_ready() {
	v=$(candidate "$KPKG")
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		[ "$(id -u)" -eq 0 ] || die "no apt lists for $KPKG; run apt-get update as root"
		log "apt-get update"
		apt-get update -qq >/dev/null
		: >"$VERS"
	fi
}

# fetch PKG...: download each package's candidate into $CACHE/debs unless already there.
fetch() {
	for p in "$@"; do
		v=$(candidate "$p")
		if [ -z "$v" ] || [ "$v" = "(none)" ]; then die "package $p has no candidate version"; fi
		f=""
		for d in "$CACHE/debs/${p}_"*.deb; do
			[ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$v" ] && f=$d
		done
		if [ -z "$f" ]; then
			rm -f "$CACHE/debs/${p}_"*.deb # older versions
			log "apt-get download $p=$v"
			(cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$p=$v") >&2 \
				|| die "apt-get download $p failed"
		fi
		echo "$p" >>"$WORK/fetched"
	done
}

# unpack PKG DIR
unpack() {
	v=$(candidate "$1")
	for d in "$CACHE/debs/${1}_"*.deb; do
		if [ "$(dpkg-deb -f "$d" Version)" = "$v" ]; then
			dpkg -x "$d" "$2"
			return 0
		fi
	done
	die "no .deb for $1 $v"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Direct library dependencies (lib*) of the packages fetched so far that neither the host has
# nor we fetched: candidates for sonames ldd could not find.
more_libs() {
	sort -u "$WORK/fetched" | xargs apt-cache depends --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances 2>/dev/null |
		awk '/^ *\|?(Pre)?Depends: lib/ { print $2 }' | sort -u | while read -r p; do
		grep -qx "$p" "$WORK/fetched" || installed "$p" || echo "$p"
	done
}

# Copy FILE's shared libraries (as ldd resolves them, first in the unpacked tree) into the image.
LIBDIRS=""
copy_libs() {
	LD_LIBRARY_PATH=$LIBDIRS ldd "$1" 2>/dev/null | while read -r a b c _; do
		if [ "$b" = "=>" ] && [ "$c" = "not" ]; then
			echo "$a" >>"$WORK/missing"
		elif [ "$b" = "=>" ] && [ -f "$c" ]; then
			[ -e "$ROOT/lib/x86_64-linux-gnu/$a" ] || cp -L "$c" "$ROOT/lib/x86_64-linux-gnu/$a"
		fi
	done
}

key() {
	{
		cat "$HERE/build-guest.sh" "$HERE/init" "$HERE/vmtool.py"
		for p in "$KPKG" $PKGS; do echo "$p $(candidate "$p")"; done
	} | sha256sum | cut -c1-16
}

build_kernel() {
	log "kernel $KVER ($KIMG)"
	fetch "$KIMG"
	unpack "$KIMG" "$WORK/k"
	$PY "$HERE/vmtool.py" extract-vmlinux "$WORK/k/boot/vmlinuz-$KVER" "$WORK/vmlinux"
	"$WORK/kbin/depmod" -b "$WORK/k" "$KVER"
}

build_initrd() {
	I=$WORK/initrd
	mkdir -p "$I/bin" "$I/lib/modules/$KVER" "$I/etc" "$I/usr" "$I/dev" "$I/proc" "$I/sys" \
		"$I/run" "$I/tmp" "$I/mnt" "$I/var"
	cp "$WORK/x/bin/busybox" "$I/bin/busybox"
	for a in $("$I/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$I/bin/$a"
	done
	ln -s bin "$I/sbin"
	ln -s usr/lib64 "$I/lib64"
	ln -s ../usr/lib/x86_64-linux-gnu "$I/lib/x86_64-linux-gnu"
	ln -s ../usr/lib/multipath "$I/lib/multipath"
	cp "$HERE/init" "$I/init"
	chmod 755 "$I/init"
	for m in $MODS $MODS_LATER; do
		"$WORK/kbin/modprobe" -d "$WORK/k" -S "$KVER" --show-depends "$m" >>"$WORK/moddeps" ||
			die "module $m not found"
	done
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$WORK/moddeps" >"$WORK/modlist"
	while read -r m; do
		rel=${m#"$WORK/k/lib/modules/$KVER/"}
		mkdir -p "$I/lib/modules/$KVER/$(dirname "$rel")"
		cp "$m" "$I/lib/modules/$KVER/$rel"
	done <"$WORK/modlist"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		cp "$WORK/k/lib/modules/$KVER/$f" "$I/lib/modules/$KVER/"
	done
	"$WORK/kbin/depmod" -b "$I" "$KVER"
	echo "$MODS" | tr ' ' '\n' >"$I/etc/utgt-modules"
	$PY "$HERE/vmtool.py" cpio "$I" "$WORK/initrd.cpio" --console
}

build_root() {
	ROOT=$WORK/root
	X=$WORK/x
	mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/lib/x86_64-linux-gnu" "$ROOT/lib64" "$ROOT/share/utgt"
	for b in $BINS; do cp "$X/$b" "$ROOT/sbin/"; done
	cp "$X"/usr/bin/sg_* "$ROOT/bin/"
	cp -r "$X/lib/multipath" "$ROOT/lib/multipath"
	cp "$X/etc/iscsi/iscsid.conf" "$ROOT/share/utgt/iscsid.conf"
	for l in mkfs.ext4:mke2fs fsck.ext4:e2fsck; do ln -s "${l#*:}" "$ROOT/sbin/${l%:*}"; done
	cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"
	LIBDIRS=$X/lib:$X/lib/x86_64-linux-gnu:$X/usr/lib/x86_64-linux-gnu:$X/usr/lib/x86_64-linux-gnu/ceph
	while :; do
		: >"$WORK/missing"
		for f in "$ROOT"/sbin/* "$ROOT"/bin/* "$ROOT"/lib/multipath/*.so; do
			[ -L "$f" ] || copy_libs "$f"
		done
		# Libraries pull in libraries: walk them too.
		for f in "$ROOT"/lib/x86_64-linux-gnu/*; do copy_libs "$f"; done
		[ -s "$WORK/missing" ] || break
		more=$(more_libs)
		[ -n "$more" ] || die "libraries not found: $(sort -u "$WORK/missing" | tr '\n' ' ')"
		# shellcheck disable=SC2086 # lists of package names
		log "fetching libraries:" $more
		# shellcheck disable=SC2086
		lookup $more
		# shellcheck disable=SC2086
		fetch $more
		for p in $more; do unpack "$p" "$X"; done
	done
	size=$(du -sk "$ROOT" | awk '{ print int($1 * 1.3 / 1024) + 16 }')
	# The image's own mke2fs: the host needs no e2fsprogs.
	LD_LIBRARY_PATH=$ROOT/lib/x86_64-linux-gnu "$ROOT/sbin/mke2fs" -q -F -t ext4 \
		-O ^has_journal -L utgt-guest -d "$ROOT" "$WORK/root.ext4" "${size}M" >&2
}

main() {
	mkdir -p "$CACHE/debs"
	exec 9>"$CACHE/.lock"
	flock 9
	apt_ready
	KIMG=$(apt-cache depends "$KPKG" | awk '/Depends: linux-image-/ { print $2; exit }')
	[ -n "$KIMG" ] || die "cannot resolve $KPKG"
	KVER=${KIMG#linux-image-}
	# shellcheck disable=SC2086
	lookup "$KPKG" $PKGS
	OUT=$CACHE/$(key)
	if [ -f "$OUT/ok" ]; then
		echo "$OUT"
		return 0
	fi
	t0=$(date +%s)
	WORK=$OUT.tmp
	rm -rf "$WORK"
	mkdir -p "$WORK/kbin" "$WORK/x"
	: >"$WORK/fetched"
	# shellcheck disable=SC2086
	lookup $PKGS "$KIMG"
	# shellcheck disable=SC2086
	fetch $PKGS
	for p in $PKGS; do unpack "$p" "$WORK/x"; done
	ln -s ../x/bin/kmod "$WORK/kbin/depmod"
	ln -s ../x/bin/kmod "$WORK/kbin/modprobe"
	build_kernel
	build_initrd
	build_root
	echo "$KVER" >"$WORK/kernel-version"
	mkdir -p "$OUT.new"
	mv "$WORK/vmlinux" "$WORK/initrd.cpio" "$WORK/root.ext4" "$WORK/kernel-version" "$OUT.new/"
	rm -rf "$WORK" "$OUT"
	touch "$OUT.new/ok"
	mv "$OUT.new" "$OUT"
	# Keep only this build (and the downloaded packages).
	for d in "$CACHE"/*/; do
		d=${d%/}
		case $d in "$OUT" | "$CACHE/debs" | "$CACHE/current") ;; *) rm -rf "$d" ;; esac
	done
	ln -sfn "$(basename "$OUT")" "$CACHE/current"
	log "built $OUT in $(($(date +%s) - t0)) s"
	echo "$OUT"
}

main "$@"
