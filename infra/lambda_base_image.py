"""Build a stand-in for AWS's Lambda Python 3.13 base image, offline.

    make lambda-base-image      (or: .venv/bin/python -m infra.lambda_base_image)

`sam local` runs a function in `public.ecr.aws/lambda/python:3.13-<arch>` plus SAM's
Runtime Interface Emulator. Where that image cannot be pulled (no registry reachable),
this builds one that SAM can use in its place (`sam local ... --invoke-image`), named
`authapi-lambda-base:python3.13-<arch>` so that it is never mistaken for the official one:

- a minimal Debian trixie root filesystem (debootstrap) with Debian's CPython 3.13,
  linked as /var/lang/bin/python3.13 where the official image has its Python;
- awslambdaric, AWS's own Python runtime interface client (the project behind the
  official image's runtime), in /var/runtime, and a /var/runtime/bootstrap that starts
  it with the handler from `_HANDLER`, which is what SAM's emulator executes;
- /bin/sh, mv and chmod, which SAM's image build on top of it runs.

What differs from the official image: Debian's Python 3.13 and glibc instead of Amazon
Linux 2023's, and no AWS SDK preinstalled (the package brings its own botocore).
Needs root (debootstrap), debootstrap, Docker and network access to a Debian mirror
and to the Python package index. Takes 1.5-2 minutes here (mostly debootstrap); 107 MB.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STAND_IN_REPOSITORY = "authapi-lambda-base"
OFFICIAL_REPOSITORY = "public.ecr.aws/lambda/python"
PYTHON_VERSION = "3.13"
DEBIAN_SUITE = "trixie"  # the Debian release whose CPython is 3.13
DEBIAN_PACKAGES = ("python3.13-minimal", "libpython3.13-stdlib")
UNUSED_PATHS = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/man",
)
# Marks the stand-in, so that `make sam-local` can say which image it runs.
STAND_IN_LABEL = "org.authapi.lambda-base=stand-in"

BOOTSTRAP = """\
#!/var/lang/bin/python3.13
# What SAM's Runtime Interface Emulator starts: AWS's runtime interface client serving
# the handler named in _HANDLER, with sys.path in Lambda's order (the function's code,
# layers, then the runtime).
import os
import sys

task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
sys.path[0:1] = [task_root, "/opt/python", "/var/runtime"]
os.chdir(task_root)

from awslambdaric.__main__ import main

try:
    main([sys.argv[0], os.environ["_HANDLER"]])
except RuntimeError as error:
    # The emulator went away while the client waited for the next event: SAM stops the
    # container. Not an error of the function, so no traceback in SAM's output.
    if str(error) != "Failed to get next":
        raise
"""

# The official image's environment, as far as the function can tell.
IMAGE_SETTINGS = (
    "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV TZ=:/etc/localtime",
    "ENV LAMBDA_TASK_ROOT=/var/task",
    "ENV LAMBDA_RUNTIME_DIR=/var/runtime",
    "WORKDIR /var/task",
    f"LABEL {STAND_IN_LABEL}",
)


@dataclass(frozen=True)
class Architecture:
    """One machine architecture under the names each tool uses for it."""

    lambda_name: str  # Lambda and SAM: x86_64, arm64
    wheel: str  # manylinux wheels and functions/api/Makefile's LAMBDA_ARCH: x86_64, aarch64
    debian: str  # debootstrap: amd64, arm64


X86_64 = Architecture("x86_64", "x86_64", "amd64")
ARM64 = Architecture("arm64", "aarch64", "arm64")


def this_machine() -> Architecture:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return X86_64
    if machine in ("aarch64", "arm64"):
        return ARM64
    raise SystemExit(f"Lambda has no {machine} architecture (only x86_64 and arm64)")


def official_image(arch: Architecture) -> str:
    return f"{OFFICIAL_REPOSITORY}:{PYTHON_VERSION}-{arch.lambda_name}"


def stand_in_image(arch: Architecture) -> str:
    return f"{STAND_IN_REPOSITORY}:python{PYTHON_VERSION}-{arch.lambda_name}"


def derived_image(arch: Architecture) -> str:
    """The image SAM builds on the stand-in (base + emulator) and reuses while it exists."""
    return f"{STAND_IN_REPOSITORY}:rapid-{arch.lambda_name}"


def image_exists(name: str) -> bool:
    found = subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False)
    return found.returncode == 0


def build(arch: Architecture) -> str:
    """Build the stand-in for `arch` and return its name."""
    if os.geteuid() != 0:
        raise SystemExit("Building the stand-in needs root (debootstrap creates device files).")
    for tool in ("debootstrap", "docker"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} is not installed (apt-get install {tool.replace('docker', 'docker.io')})"
            )
    name = stand_in_image(arch)
    with tempfile.TemporaryDirectory(prefix="authapi-lambda-base-") as work:
        rootfs = Path(work, "rootfs")
        print(f"{name}: Debian {DEBIAN_SUITE} ({arch.debian}) with CPython {PYTHON_VERSION}")
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--arch={arch.debian}",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                DEBIAN_SUITE,
                str(rootfs),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        lang_bin = rootfs / "var/lang/bin"
        lang_bin.mkdir(parents=True)
        for link in ("python3.13", "python3", "python"):
            (lang_bin / link).symlink_to(f"/usr/bin/python{PYTHON_VERSION}")
        print(f"{name}: awslambdaric (pyproject.toml, group lambda-base) in /var/runtime")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                "--target",
                str(rootfs / "var/runtime"),
                "--platform",
                f"manylinux2014_{arch.wheel}",
                "--implementation",
                "cp",
                "--python-version",
                PYTHON_VERSION,
                "--only-binary=:all:",
                "--no-compile",
                "--group",
                "lambda-base",
            ],
            check=True,
            cwd=REPO_ROOT,
        )
        bootstrap = rootfs / "var/runtime/bootstrap"
        bootstrap.write_text(BOOTSTRAP, encoding="utf-8")
        bootstrap.chmod(0o755)
        (rootfs / "var/task").mkdir(exist_ok=True)
        # Downloaded packages, package lists, documentation and translations: a third of
        # the size, and nothing a function uses.
        for unused in UNUSED_PATHS:
            shutil.rmtree(rootfs / unused, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        changes = [argument for setting in IMAGE_SETTINGS for argument in ("--change", setting)]
        subprocess.run(
            ["docker", "import", *changes, "-", name],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise SystemExit("tar of the root filesystem failed")
    # SAM reuses the image it derived from an older stand-in for as long as it exists.
    subprocess.run(
        ["docker", "image", "rm", "--force", derived_image(arch)], capture_output=True, check=False
    )
    print(f"{name}: built")
    return name


def main() -> int:
    try:
        build(this_machine())
    except subprocess.CalledProcessError as exc:
        print(f"`{' '.join(map(str, exc.cmd))}` failed ({exc.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
