"""The MRZ stage: locate -> OCR -> parse -> check digits -> correct (TD1/TD2/TD3/MRV-A/MRV-B)."""

from proofing.mrz.parse import parse_lines
from proofing.mrz.result import CheckResult, Correction, MrzFields, MrzResult

__all__ = ["CheckResult", "Correction", "MrzFields", "MrzResult", "parse_lines"]
