"""All configuration in one place, read from ``PROOFING_*`` environment variables.

Nothing else in the package reads the environment: stages receive what they need as
arguments, so a test or a worker can run with settings of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "PROOFING_"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else default


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "proofing"


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Build with :func:`get_settings` (from the environment)."""

    #: Directory searched first for model files (matched by sha256, not by name).
    models_dir: Path | None = None
    #: Where the project keeps its own state: caches, derived models, the SQLite store.
    data_dir: Path = field(default_factory=_default_data_dir)
    #: SQLAlchemy URL of the case store; SQLite under data_dir when unset.
    database_url: str | None = None
    #: The shared real data (specimens, pair lists), used by tests, benchmarks and the demo.
    shared_data_dir: Path | None = None
    #: Tesseract language for the MRZ: "ocrb" (fine-tuned OCR-B model from the registry) or "eng".
    mrz_ocr_lang: str = "ocrb"
    #: Second MRZ OCR engine (PP-OCRv4): "off", "doubtful" or "always" (proofing/mrz/ppocr.py).
    mrz_second_engine: str = "off"
    #: The MRZ glyph classifier (built by `proofing models train-glyphs`): "auto" uses it
    #: when built, "off" never.
    mrz_glyph_model: str = "auto"
    #: Evidence encryption keys, "id:base64key,..." (first is current); kept out of repr.
    evidence_keys: str | None = field(default=None, repr=False)
    #: Precision variant per model, e.g. "sface=int8,yunet=fp16" or "*=fp16"; empty: fp32.
    model_variants: str = ""
    #: Second face embedder fused with SFace: "dlib" (ResNet, the dlib extra) or "none".
    face_second_embedder: str = "dlib"
    #: Face stage configuration: "fast" (one refined alignment, ~36 ms per 640x480 frame at
    #: int8) or "accurate" (two detectors, four alignments averaged, ~4x the time, fewer
    #: genuine rejections at FMR 1e-3); each has its own calibrated thresholds file.
    face_mode: str = "fast"
    #: Celery broker (e.g. redis://127.0.0.1:6379/0); unset: sessions run in-process.
    broker_url: str | None = None
    #: Where encrypted blobs live: unset for data_dir/evidence, "file:///path" or "s3://bucket/prefix".
    storage_url: str | None = None
    #: PEM file of the ES256 key that signs evidence records; unset: generated once in data_dir.
    signing_key: Path | None = None
    #: Secret for console cookies and CSRF tokens; unset: generated once in data_dir.
    secret_key: str | None = field(default=None, repr=False)
    #: CSCA trust for the server's passive authentication: master lists, certificates, CRLs, dirs.
    trust_paths: tuple[Path, ...] = ()
    #: How long an applicant session stays open for uploads.
    session_ttl_s: int = 3600
    #: Upload limits: bytes per file, files per kind, pixels per image.
    max_upload_bytes: int = 8 * 1024 * 1024
    max_frames: int = 20
    max_pixels: int = 40_000_000

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'proofing.db'}"


def get_settings() -> Settings:
    """Read settings from the environment (``PROOFING_MODELS_DIR``, ``PROOFING_DATA_DIR``, ...)."""
    models = _env("MODELS_DIR")
    data = _env("DATA_DIR")
    shared = _env("SHARED_DATA_DIR")
    return Settings(
        models_dir=Path(models).expanduser() if models else None,
        data_dir=Path(data).expanduser() if data else _default_data_dir(),
        database_url=_env("DATABASE_URL"),
        shared_data_dir=Path(shared).expanduser() if shared else None,
        mrz_ocr_lang=_env("MRZ_OCR_LANG", "ocrb") or "ocrb",
        mrz_second_engine=(_env("MRZ_SECOND_ENGINE", "off") or "off").strip().lower(),
        mrz_glyph_model=(_env("MRZ_GLYPH_MODEL", "auto") or "auto").strip().lower(),
        evidence_keys=_env("EVIDENCE_KEYS"),
        model_variants=_env("MODEL_VARIANTS", "") or "",
        face_second_embedder=_env("FACE_SECOND_EMBEDDER", "dlib") or "dlib",
        face_mode=(_env("FACE_MODE", "fast") or "fast").strip().lower(),
        broker_url=_env("BROKER_URL"),
        storage_url=_env("STORAGE_URL"),
        signing_key=Path(k).expanduser() if (k := _env("SIGNING_KEY")) else None,
        secret_key=_env("SECRET_KEY"),
        trust_paths=tuple(Path(p).expanduser() for p in (_env("TRUST", "") or "").split(os.pathsep) if p),
        session_ttl_s=int(_env("SESSION_TTL_S", "3600") or 3600),
        max_upload_bytes=int(_env("MAX_UPLOAD_BYTES", str(8 * 1024 * 1024)) or 0),
        max_frames=int(_env("MAX_FRAMES", "20") or 20),
        max_pixels=int(_env("MAX_PIXELS", "40000000") or 0),
    )
