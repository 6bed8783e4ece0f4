"""The reader's handling of competing readings, without tesseract: doubled glyphs, votes
between valid readings, and the name-field rules that need no check digit."""

from __future__ import annotations

from proofing.mrz.correct import correct_lines
from proofing.mrz.ocr import OcrChar, OcrLine
from proofing.mrz.parse import parse_lines
from proofing.mrz.reader import Reading, _merge_doubles, _Session

# ICAO 9303 Part 4 worked example (TD3).
TD3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]


def _line(text: str, pitch: float = 20.0) -> OcrLine:
    """An OCR line at a constant pitch."""
    chars = tuple(OcrChar(ch, 0.9, round(k * pitch - 6), round(k * pitch + 6)) for k, ch in enumerate(text))
    return OcrLine(text, chars, 0, 24)


def test_doubled_glyph_is_merged_with_its_alternative() -> None:
    # The '0' at slot 4 read twice ('0O'), the second reading 8 px to the right and less sure.
    truth = TD3[1]
    chars = list(_line(truth).chars)
    x = chars[4].cx
    chars.insert(5, OcrChar("O", 0.5, round(x + 8 - 6), round(x + 8 + 6)))
    line = OcrLine("".join(c.char for c in chars), tuple(chars), 0, 24)
    merged = _merge_doubles(line, 44)
    assert merged is not None
    text, conf, xs, alts = merged
    assert text == truth and len(conf) == len(xs) == 44
    assert alts == [(4, "O")]


def test_no_merge_without_close_pairs() -> None:
    assert _merge_doubles(_line(TD3[1] + "<"), 44) is None


def test_name_noise_after_filler_run_becomes_fillers() -> None:
    noisy = [TD3[0][:30] + "BC" + TD3[0][32:], TD3[1]]
    fixed, corrections = correct_lines(noisy)
    assert fixed == TD3
    assert {c.rule for c in corrections} == {"field_type"}


def test_one_letter_given_name_k_is_kept() -> None:
    # A secondary identifier 'K' filling the field's last slot (a K between fillers is
    # still taken for a misread filler).
    lines = ["P<UTOJYUKUDRIOV<GRUMALOSVEK<CHOPLONASHAIS<<K", TD3[1]]
    assert correct_lines(lines)[0] == lines
    last = ["P<UTOSMITH" + "<" * 32 + "<K", TD3[1]]
    # After a run of fillers a lone letter is noise, not a name component.
    assert correct_lines(last)[0][0] == "P<UTOSMITH" + "<" * 34


def test_sex_misread_as_r_is_m() -> None:
    lines = [TD3[0], TD3[1][:20] + "R" + TD3[1][21:]]
    fixed, corrections = correct_lines(lines)
    assert fixed[1][20] == "M"
    assert corrections[0].field == "sex"


def _reading(lines: list[str], refit: int = 0) -> Reading:
    return Reading(parse_lines(lines), 0.9, refit)


def test_three_valid_readings_vote_on_the_name() -> None:
    wrong = [TD3[0].replace("MARIA", "NARIA"), TD3[1]]
    session = _Session.__new__(_Session)
    session.valid = [_reading(TD3, refit=1), _reading(wrong), _reading(TD3, refit=1)]
    session.best = session.valid[1]  # no guess made, so it ranks first
    assert session.disputed()
    voted = session.voted()
    assert voted is not None and voted.result.lines == TD3
    assert voted.result.valid


def test_two_disagreeing_readings_keep_the_best() -> None:
    wrong = [TD3[0].replace("MARIA", "NARIA"), TD3[1]]
    session = _Session.__new__(_Session)
    session.valid = [_reading(TD3, refit=1), _reading(wrong)]
    session.best = session.valid[1]
    voted = session.voted()
    assert voted is session.best


def test_ambiguous_state_code_follows_the_other_code_field() -> None:
    # 'PRL' could be PHL (R for H) or PRI (L for I); the nationality says PHL.
    lines = ["P<PRLLIEZ<BRUCHEIN<<<<<<<<<<<<<<<<<<<<<<<<<<", "GV8254<<<6PHL8004299F1712221<<<<<<<<<<<<<<<2"]
    fixed, corrections = correct_lines(lines)
    assert fixed[0].startswith("P<PHL")
    assert [c.field for c in corrections] == ["issuing_state"]


def test_unknown_code_with_two_readings_and_no_twin_is_left_alone() -> None:
    # '8GP' could be SGP or BGD, and the issuing state (NIU) does not tell.
    lines = ["VCNIUGOCOEZ<<NUGRUSVER<<<<<<<<<<<<<<", "D21617<<<08GP7608195M2107268<<<<<<<<"]
    assert correct_lines(lines)[0] == lines
