"""The operator range overlay: parsed in Rust, errors with file:line:column."""

from __future__ import annotations

import pytest
from engines import bare

import fraudcore

SPOOFING = """
[[rules]]
id = "spoofed_home_cli"
when = "ingress == 'international' and roaming != true and caller.is_home"
action = "block"
"""


def write(tmp_path, text):
    path = tmp_path / "ranges.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_overlay_changes_region_type_carrier_and_tags(tmp_path):
    path = write(
        tmp_path,
        "# regulator allocations, 2026-11\n"
        "prefix,region,type,carrier,location,tags\n"
        "+76,KZ,,,,kz_reserved\n"
        "+7600,KZ,mobile,NewCo,,new_operator;watch\n"
        '+77272,,,,"Almaty, city centre",\n',
    )
    engine = bare("KZ", overlay=path, rules=SPOOFING)
    info = engine.classify("+76001234567")
    assert (info.region, info.valid, info.type, info.carrier) == ("KZ", True, "mobile", "NewCo")
    assert info.tags == ("kz_reserved", "new_operator", "watch")
    assert engine.classify("+76101234567").tags == ("kz_reserved",)
    assert not engine.classify("+76101234567").valid
    assert engine.classify("+77272123456").location == "Almaty, city centre"
    call = {"caller": "+76001234567", "callee": "87011234567", "ingress": "international"}
    assert engine.score(call).reasons == ("spoofed_home_cli",)


@pytest.mark.parametrize(
    "text, where, word",
    [
        ("prefix,region\n+76,KZ\n+7x6,KZ\n", ":3:1:", "+7x6"),
        ("prefix,region\n+76,KAZ\n", ":2:2:", "KAZ"),
        ("prefix,type\n+76,mobil\n", ":2:2:", "mobil"),
        ("region,type\nKZ,mobile\n", ":1:1:", "prefix"),
        ("prefix,colour\n+76,red\n", ":1:1:", "colour"),
        ("prefix,region\n+76,KZ,extra\n", ":2:", "fields"),
        ("prefix,region\n+76,KZ\n76,RU\n", ":3:1:", "repeats " + "{path}:2"),
    ],
)
def test_errors_name_file_line_column_and_word(tmp_path, text, where, word):
    path = write(tmp_path, text)
    with pytest.raises(fraudcore.ParseError) as info:
        bare("KZ", overlay=path)
    message = str(info.value)
    assert message.startswith(path + where), message
    assert word.format(path=path) in message
    assert isinstance(info.value, ValueError)
