"""Remote identity proofing: passport MRZ, ePassport chip, liveness, face matching, decision."""

__version__ = "0.1.0"
