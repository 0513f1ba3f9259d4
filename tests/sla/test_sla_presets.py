"""Policy presets file: shipped presets load; mistakes are refused naming file and key."""

import tomllib
from pathlib import Path

import pytest

from qingting.sla.presets import PresetError, load_presets, parse_presets

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "qingting" / "sla" / "presets.toml"


def test_shipped_presets_cover_the_issue():
    p = load_presets()
    codes = [x.code for x in p.policies]
    assert codes == ["bank_insurance", "samr_12315", "hotline_12345", "enterprise_general"]  # by order
    bank = p.policy("bank_insurance").targets[0]
    assert (bank.kind, bank.target.amount, bank.target.unit, bank.starts_on) == ("resolution", 15, "calendar_days", "accepted")
    assert set(bank.pause_reasons) == {"appraisal", "mediation"}
    assert [(e.amount, e.approval) for e in bank.extensions] == [(15, False), (30, True)]
    samr = {t.kind: (t.target.amount, t.target.unit) for t in p.policy("samr_12315").targets}
    assert samr == {"contact": (7, "working_days"), "resolution": (45, "working_days")}
    hot = p.policy("hotline_12345")
    assert [t.target.amount for t in hot.targets_for({"category": "enquiry"})] == [3]
    assert [t.target.amount for t in hot.targets_for({"category": "billing"})] == [13]
    gen = p.policy("enterprise_general")
    fr = {pr: next(t for t in gen.targets_for({"priority": pr}) if t.kind == "first_response").target for pr in ("P1", "P2", "P3", "P4")}
    assert [(t.amount, t.unit) for t in fr.values()] == [
        (1, "calendar_hours"), (4, "business_hours"), (1, "business_days"), (2, "business_days"),
    ]
    kinds = {t.kind for t in gen.targets_for({"priority": "P2"})}
    assert kinds == {"first_response", "resolution", "follow_up", "promise"}
    fu = next(t for t in gen.targets if t.kind == "follow_up")
    assert (fu.target.amount, fu.target.unit, fu.starts_on) == (3, "calendar_days", "resolved")


def test_policy_selection_by_match_rules():
    p = load_presets()
    assert p.select_policy({"priority": "P3", "channel": "phone"}).code == "enterprise_general"
    assert p.select_policy({"profile": "insurance", "priority": "P2"}).code == "bank_insurance"
    assert p.select_policy({"channel": "regulator", "tags": ["12315", "急"]}).code == "samr_12315"
    assert p.select_policy({"channel": "phone", "tags": ["12315"]}).code == "enterprise_general"  # AND across keys
    assert p.select_policy({"tags": ["12345"]}).code == "hotline_12345"


def _data():
    return tomllib.loads(SHIPPED.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "mutate, where, words",
    [
        (lambda d: d["policies"][1]["targets"][0].update(unit="days"), "policies[1] (samr_12315).targets[0].unit", "unknown unit"),
        (lambda d: d["policies"][0]["targets"][0].update(amount=-15), "policies[0] (bank_insurance).targets[0]", "must be positive"),
        (lambda d: d["policies"][0]["targets"][0].update(amout=15), "policies[0] (bank_insurance).targets[0].amout", "unknown key"),
        (lambda d: d["policies"][0].update(calendar="nowhere"), "policies[0] (bank_insurance).calendar", "unknown calendar"),
        (lambda d: d["policies"][1].update(code="bank_insurance"), "policies[1] (bank_insurance).code", "duplicate"),
        (lambda d: d["policies"][3]["targets"][0]["match"].update(priority=["P9"]), "targets[0].match.priority", "unknown value 'P9'"),
        (lambda d: d["policies"][0]["targets"][0]["extensions"][1].update(amount=0), "extensions[1].amount", "positive"),
        (lambda d: d["policies"][0]["targets"][0].update(pause_reasons=["lunch"]), "pause_reasons", "unknown value"),
        (lambda d: d["calendars"]["standard"].update(hours="18:00-09:00"), "calendars.standard", "end before they start"),
        (lambda d: d["policies"][2].update(targets=[]), "policies[2] (hotline_12345).targets", "at least one target"),
        (lambda d: d.update(schema_version=2), "schema_version", "expected 1"),
    ],
)
def test_bad_presets_name_file_and_key(mutate, where, words):
    data = _data()
    mutate(data)
    with pytest.raises(PresetError) as e:
        parse_presets(data, "my-presets.toml")
    msg = str(e.value)
    assert msg.startswith("my-presets.toml: ") and where in msg and words in msg, msg


def test_toml_syntax_error_keeps_line(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('schema_version = 1\n[[policies]]\ncode = "x\n', encoding="utf-8")
    with pytest.raises(PresetError, match=r"p\.toml: TOML .*line 3"):
        load_presets(f)
    with pytest.raises(PresetError, match="cannot read"):
        load_presets(tmp_path / "missing.toml")
