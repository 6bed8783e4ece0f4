"""Model registry and (later) ONNX Runtime sessions and precision variants."""

from proofing.runtime.registry import (
    ModelError,
    ModelHashMismatch,
    ModelNotFound,
    ModelSpec,
    Registry,
    default_registry,
)

__all__ = [
    "ModelError",
    "ModelHashMismatch",
    "ModelNotFound",
    "ModelSpec",
    "Registry",
    "default_registry",
]
