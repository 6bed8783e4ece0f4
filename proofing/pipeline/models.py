"""Which models the configured pipeline needs, so readiness checks ask only for those
(an optional engine that is switched off must not make a server "not ready")."""

from __future__ import annotations

from proofing.settings import Settings


def required_models(settings: Settings) -> set[str]:
    names = {"yunet_dynamic", "yunet", "sface", "minifasnet_v1se", "minifasnet_v2", "face_landmarker"}
    if settings.mrz_ocr_lang == "ocrb":
        names.add("ocrb")
    if settings.face_second_embedder == "dlib":
        names |= {"dlib_resnet", "dlib_shape5"}
    if settings.mrz_second_engine != "off":
        names.add("ppocr_rec")
    return names
