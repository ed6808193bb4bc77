# SPDX-License-Identifier: GPL-2.0-only
"""Byte-level helpers for the guest build, with no tools beyond Python's standard library:
extract the uncompressed vmlinux ELF from a bzImage (so qemu boots it through the PVH entry
without firmware or decompressor) and write newc cpio archives (the initramfs, without root
privileges: device nodes are described, not created).

  vmtool.py extract-vmlinux BZIMAGE OUT
  vmtool.py cpio DIR OUT [--console]
"""
import bz2
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import zlib

# Magic numbers of the compressors a kernel can be built with, and how to undo each.
MAGICS = [
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x5d\x00\x00", "lzma"),
    (b"BZh", "bzip2"),
    (b"\x02\x21\x4c\x18", "lz4"),
]


def _decompress(kind, data):
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if kind == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if kind == "bzip2":
        return bz2.BZ2Decompressor().decompress(data)
    tool = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"]}[kind]
    if not shutil.which(tool[0]):
        raise RuntimeError("kernel payload is %s-compressed and %s is not installed"
                           % (kind, tool[0]))
    r = subprocess.run(tool, input=data, capture_output=True, check=False)
    return r.stdout


def extract_vmlinux(bzimage, out):
    """The x86 boot protocol: setup_sects at 0x1f1, "HdrS" at 0x202, payload_offset/length at
    0x248/0x24c relative to the protected-mode code at (setup_sects + 1) * 512."""
    with open(bzimage, "rb") as f:
        img = f.read()
    if img[0x202:0x206] != b"HdrS":
        raise RuntimeError("%s: not a bzImage (no HdrS setup header)" % bzimage)
    setup_sects = img[0x1F1] or 4
    off, length = struct.unpack_from("<II", img, 0x248)
    start = (setup_sects + 1) * 512 + off
    payload = img[start:start + length]
    for magic, kind in MAGICS:
        if payload.startswith(magic):
            elf = _decompress(kind, payload)
            break
    else:
        raise RuntimeError("unknown kernel payload compression: %s" % payload[:6].hex())
    if elf[:4] != b"\x7fELF":
        raise RuntimeError("decompressed %s payload is not an ELF image" % kind)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.replace(tmp, out)


def _newc(name, mode, size=0, nlink=1, rdev=(0, 0), ino=0):
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0))
    b = hdr.encode() + name.encode() + b"\0"
    return b + b"\0" * (-len(b) % 4)


class CpioWriter:
    """A newc archive, entries owned by root, written in the order given."""

    def __init__(self, f):
        self.f = f
        self.ino = 1

    def _put(self, name, mode, data=b"", rdev=(0, 0)):
        self.f.write(_newc(name, mode, len(data), 2 if stat.S_ISDIR(mode) else 1, rdev, self.ino))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 4))
        self.ino += 1

    def dir(self, name, perm=0o755):
        self._put(name, stat.S_IFDIR | perm)

    def file(self, name, data, perm=0o644):
        self._put(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._put(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._put(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def tree(self, root):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                self.dir(rel, stat.S_IMODE(os.lstat(dirpath).st_mode))
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for n in sorted(filenames + links):
                p = os.path.join(dirpath, n)
                name = os.path.normpath(os.path.join(rel, n))
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    self.symlink(name, os.readlink(p))
                elif stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        self.file(name, f.read(), stat.S_IMODE(st.st_mode))
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]

    def trailer(self):
        self.f.write(_newc("TRAILER!!!", 0))
        pad = -self.f.tell() % 512
        self.f.write(b"\0" * pad)


def write_cpio(root, out, console=False):
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        w = CpioWriter(f)
        w.tree(root)
        if console:
            w.chardev("dev/console", 5, 1)
        w.trailer()
    os.replace(tmp, out)


def main(argv):
    if len(argv) == 3 and argv[0] == "extract-vmlinux":
        extract_vmlinux(argv[1], argv[2])
    elif len(argv) in (3, 4) and argv[0] == "cpio":
        write_cpio(argv[1], argv[2], console="--console" in argv[3:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
