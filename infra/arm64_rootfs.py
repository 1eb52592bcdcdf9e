"""An arm64 Debian root filesystem with CPython 3.13, run on x86_64 through QEMU.

    sudo python3 -m infra.arm64_rootfs [--install] [--dir DIR]

The template deploys an arm64 function by default; tests/build/test_arm64.py runs the
arm64 package that `sam build` makes in this root filesystem (chroot), so that a missing
or wrong-ABI aarch64 wheel fails a test instead of a deploy. Standard library only:
.ci/run calls this before the project's venv exists.

What it does, each step only when needed (a second run on the same machine costs ~1 s):

1. `--install`: apt-get installs qemu-user-static, binfmt-support and debootstrap.
2. Mounts binfmt_misc and enables qemu-aarch64 (lost whenever the machine restarts), so
   the kernel runs aarch64 binaries through qemu-aarch64-static; not on an arm64 host.
3. Builds the root filesystem when it is missing or was made by another recipe:
   Debian trixie, minbase, python3.13 (trixie's python3 *is* 3.13, the Lambda runtime's
   version), two-stage debootstrap (the second stage runs emulated, ~2.5 min on 2
   cores, ~290 MB), then precompiles its standard library once (each emulated start
   would otherwise compile what it imports: ~5 s). It is built next to DIR and renamed
   into place only when complete, under a lock, so an interrupted build leaves nothing
   that looks usable.
4. Checks that the emulated python3.13 starts and reports aarch64.

DIR defaults to $AUTHAPI_ARM64_ROOTFS, else /var/cache/authapi/arm64-rootfs: outside the
repository, kept between runs. Everything here needs root (mount, chroot, debootstrap).
Prints DIR on success; exits 2 with the reason when a prerequisite is missing.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DIR = Path("/var/cache/authapi/arm64-rootfs")
SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3.13-minimal", "libpython3.13-stdlib")
PYTHON = "/usr/bin/python3.13"
# The Lambda runtime's code directory: the package is mounted here (its bytecode names
# /var/task in tracebacks, as on Lambda).
TASK_DIR = "var/task"
# Written last into a complete root filesystem. A change of the recipe above changes it,
# and the next run then rebuilds.
RECIPE = f"{SUITE} arm64 minbase {','.join(PACKAGES)} stdlib-precompiled {TASK_DIR}\n"
MARKER = ".authapi-rootfs"
APT_PACKAGES = ("qemu-user-static", "binfmt-support", "debootstrap")
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
BINFMT_ENTRY = BINFMT_DIR / "qemu-aarch64"
# Nothing from the caller's environment (PYTHONDONTWRITEBYTECODE would stop nothing
# here, but a PYTHONPATH or a venv would leak in).
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}


class Unavailable(Exception):
    """A prerequisite is missing or the root filesystem cannot be made here."""


def rootfs_dir() -> Path:
    return Path(os.environ.get("AUTHAPI_ARM64_ROOTFS") or DEFAULT_DIR)


def is_arm64_host() -> bool:
    return platform.machine() in ("aarch64", "arm64")


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run a setup command; its output only when it fails, its duration when it was long
    (the slow steps are worth knowing about on a busy machine)."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise Unavailable(f"{what} failed ({done.returncode}): {' '.join(command)}\n{tail}")
    elapsed = time.monotonic() - started
    if elapsed >= 5:
        print(f"arm64 rootfs: {what}: {elapsed:.0f} s", file=sys.stderr)


def install_packages() -> None:
    """apt-get install what is missing (Debian and derivatives)."""
    missing = [
        name
        for name, tool in zip(
            APT_PACKAGES,
            ("/usr/bin/qemu-aarch64-static", "/usr/sbin/update-binfmts", "/usr/sbin/debootstrap"),
            strict=True,
        )
        if not Path(tool).exists()
    ]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise Unavailable(f"no apt-get to install {', '.join(missing)}")
    # Other jobs on the machine may hold dpkg's lock for a while: wait for it.
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
    print(f"arm64 rootfs: apt-get install {' '.join(missing)}", file=sys.stderr)
    _run([*apt, "update", "-qq"], "apt-get update")
    _run([*apt, "install", "-y", "-qq", "--no-install-recommends", *missing], "apt-get install")


def enable_binfmt() -> None:
    """Have the kernel run aarch64 executables through qemu-aarch64-static."""
    if is_arm64_host():
        return
    if not Path("/usr/bin/qemu-aarch64-static").exists():
        raise Unavailable("qemu-user-static is not installed (apt-get install qemu-user-static)")
    if not (BINFMT_DIR / "register").exists():
        _run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT_DIR)],
            "mounting binfmt_misc",
        )
    if _binfmt_enabled():
        return
    if shutil.which("update-binfmts") is None:
        raise Unavailable("binfmt-support is not installed (apt-get install binfmt-support)")
    _run(["update-binfmts", "--enable", "qemu-aarch64"], "update-binfmts --enable qemu-aarch64")
    if not _binfmt_enabled():
        raise Unavailable(f"{BINFMT_ENTRY} is not enabled after update-binfmts")


def _binfmt_enabled() -> bool:
    try:
        return BINFMT_ENTRY.read_text().splitlines()[0] == "enabled"
    except (OSError, IndexError):
        return False


def is_complete(root: Path) -> bool:
    try:
        return (root / MARKER).read_text() == RECIPE
    except OSError:
        return False


def build(root: Path) -> None:
    """Debootstrap into a sibling directory, then rename it to `root`."""
    if shutil.which("debootstrap") is None:
        raise Unavailable("debootstrap is not installed (apt-get install debootstrap)")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.building-", dir=root.parent))
    try:
        print(f"arm64 rootfs: building {root} (a few minutes)", file=sys.stderr)
        _run(
            [
                "debootstrap",
                "--arch=arm64",
                "--foreign",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(staging),
                MIRROR,
            ],
            "debootstrap (first stage)",
        )
        _chroot(staging, ["/debootstrap/debootstrap", "--second-stage"], "debootstrap stage 2")
        # Debian leaves most of the standard library uncompiled in a minimal system.
        _chroot(
            staging,
            [PYTHON, "-m", "compileall", "-q", "-j", "0", "/usr/lib/python3.13"],
            "compileall of the standard library",
        )
        (staging / TASK_DIR).mkdir(parents=True, exist_ok=True)
        (staging / MARKER).write_text(RECIPE)
        if root.exists():
            shutil.rmtree(root)
        staging.chmod(0o755)  # mkdtemp made it private; a root filesystem is not
        staging.rename(root)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _chroot(root: Path, command: list[str], what: str) -> None:
    _run(["chroot", str(root), *command], what, env=CHROOT_ENV)


def check(root: Path) -> None:
    _chroot(
        root,
        [PYTHON, "-I", "-c", "import platform, sys; sys.exit(platform.machine() != 'aarch64')"],
        "starting the emulated python3.13",
    )


def ensure(root: Path | None = None, *, install: bool = False) -> Path:
    """The ready root filesystem (built if needed), or Unavailable with the reason."""
    root = root or rootfs_dir()
    if sys.platform != "linux":
        raise Unavailable("the arm64 root filesystem needs Linux (binfmt_misc, chroot)")
    if os.geteuid() != 0:
        raise Unavailable("the arm64 root filesystem needs root (mount, chroot, debootstrap)")
    if install:
        install_packages()
    enable_binfmt()
    if not is_complete(root):
        root.parent.mkdir(parents=True, exist_ok=True)
        # One builder at a time; a second caller waits, then finds it complete.
        with (root.parent / f"{root.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not is_complete(root):
                build(root)
    check(root)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--install", action="store_true", help="apt-get install what is missing")
    parser.add_argument("--dir", type=Path, help=f"default: $AUTHAPI_ARM64_ROOTFS or {DEFAULT_DIR}")
    args = parser.parse_args(argv)
    try:
        print(ensure(args.dir, install=args.install))
    except Unavailable as exc:
        print(f"arm64 rootfs: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
