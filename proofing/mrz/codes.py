"""ICAO 9303 Part 3 codes for issuing states, organisations and nationalities.

The three-letter codes are ISO 3166-1 alpha-3 plus the codes ICAO adds: 'D' for Germany,
the British nationality categories, the United Nations and other organisations, and the
codes for stateless persons and refugees.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: Codes ICAO 9303 Part 3 defines beyond ISO 3166-1, with what they stand for.
ICAO_SPECIAL_CODES: dict[str, str] = {
    "D": "Germany",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "specialized agency of the United Nations or one of its officials",
    "UNK": "resident of Kosovo to whom a travel document has been issued by UNMIK",
    "RKS": "Kosovo (code used by Kosovo's own documents)",
    "EUE": "European Union",
    "XBA": "African Development Bank",
    "XIM": "African Export-Import Bank",
    "XCC": "Caribbean Community or one of its emissaries",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa",
    "XEC": "Economic Community of West African States",
    "XES": "Organisation of Eastern Caribbean States",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XOM": "Sovereign Military Order of Malta",
    "XDC": "Southern African Development Community",
    "XPO": "International Criminal Police Organization (INTERPOL)",
    "XXA": "stateless person (1954 Convention)",
    "XXB": "refugee (1951 Convention)",
    "XXC": "refugee (other than 1951 Convention)",
    "XXX": "person of unspecified nationality",
}

#: The fictitious state of ICAO's worked examples and many specimens.
SPECIMEN_CODES: dict[str, str] = {"UTO": "Utopia (ICAO specimen state)"}


@lru_cache(maxsize=1)
def _iso_codes() -> dict[str, bool]:
    """ISO 3166 alpha-3 codes -> True if current, False if historic."""
    text = resources.files("proofing.mrz").joinpath("data/iso3166_alpha3.txt").read_text()
    out: dict[str, bool] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        out[parts[0]] = len(parts) == 1
    return out


def normalise_code(raw: str) -> str:
    """Strip the filler that pads codes shorter than three letters ('D<<' -> 'D')."""
    return raw.replace("<", "")


def code_kind(code: str) -> str | None:
    """'state', 'historic', 'special', 'specimen', or None for an unknown code."""
    code = normalise_code(code)
    if code in ICAO_SPECIAL_CODES:
        return "special"
    if code in SPECIMEN_CODES:
        return "specimen"
    iso = _iso_codes()
    if code in iso:
        return "state" if iso[code] else "historic"
    return None


def is_known_code(code: str) -> bool:
    return code_kind(code) is not None


def all_codes(*, include_historic: bool = False) -> list[str]:
    """Every code in use (for synthetic data); withdrawn ISO codes only on request."""
    iso = {c for c, current in _iso_codes().items() if current or include_historic}
    return sorted(iso | set(ICAO_SPECIAL_CODES) | set(SPECIMEN_CODES))
