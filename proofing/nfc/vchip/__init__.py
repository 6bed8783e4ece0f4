"""A virtual eMRTD chip that speaks real APDUs: in-process (:class:`DirectTransport`) or
behind pcscd through the vsmartcard ``vpcd`` reader driver (:mod:`.vpcd`).

It exists so the reader, the CLI and the pipeline can be tested end to end, with faults
injected on purpose, without a passport on a desk.
"""

from proofing.nfc.vchip.card import DirectTransport, Faults, VirtualChip
from proofing.nfc.vchip.profile import ChipProfile, load_profile, make_profile

__all__ = ["ChipProfile", "DirectTransport", "Faults", "VirtualChip", "load_profile", "make_profile"]
