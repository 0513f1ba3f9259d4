"""Role-play engine: a simulated difficult customer (pure Python, no Django).

    sc = load_scenario("src/qingting/training/scenarios/auto4s_emotional.toml")
    s = Session(sc, seed=7)
    s.opening                       # the customer's first line
    turn = s.reply("王女士，您先别急……")   # trainee speaks; turn.customer is the answer
    s.done, s.outcome               # agreement | escalation | turn_limit
    result = s.result()             # score, per-principle scores, feedback, transcript

The trainee's turns are read with the reply checker's signals (acknowledged, apologised,
asked for facts, explained, offered, committed with a time, argued, blamed, refused …);
the customer's mood (anger, trust 0–100) moves by the rules in data/dynamics.toml, and
the scenario's branches give the next line: calms_down, still_upset, demands_manager /
threatens_exposure (its escalation branch), accepts. Deterministic for a given seed:
``Session.replay(scenario, seed, trainee_lines)`` rebuilds any session, so a web layer
only needs to store the seed and the trainee's lines.
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qingting.coaching.checker import check_reply

PACKAGE_DIR = Path(__file__).resolve().parent
SCENARIO_DIR = PACKAGE_DIR / "scenarios"
DYNAMICS_PATH = PACKAGE_DIR / "data" / "dynamics.toml"

PERSONAS = ("emotional", "righteous", "stubborn", "prepared", "self_important", "influential", "ordinary")
BRANCHES = ("calms_down", "still_upset", "demands_manager", "threatens_exposure", "accepts")
REQUIRED_BRANCHES = ("calms_down", "still_upset", "accepts")
SIGNALS = ("acknowledged", "apologised", "asked", "explained", "offered", "committed", "contact",
           "thanked", "argued", "blamed", "refused", "overpromised", "bare_ack", "nothing")
OUTCOMES = {"agreement": ("达成一致", "agreement"), "escalation": ("升级/投诉扩大", "escalation"),
            "turn_limit": ("回合用尽未解决", "turn limit reached")}

PRINCIPLES = {
    "feelings_first": ("先处理心情，再处理事情", "Feelings first, then the matter",
                       "开场先回应客户的感受（理解、体谅），再谈事实和方案。",
                       "Open by acknowledging the customer's feelings before facts and solutions."),
    "apology": ("真诚道歉", "Sincere apology",
                "责任在我方时，要明确、真诚地道歉。", "When we are at fault, apologise clearly and sincerely."),
    "listen_facts": ("了解事实", "Get the facts",
                     "用提问了解经过和诉求（五到：口到、耳到），不要凭猜测处理。",
                     "Ask questions to learn what happened and what the customer wants."),
    "what_we_can_do": ("强调可以做什么", "Stress what we can do",
                       "给出具体方案或临时解决办法，客户不关心我们不能做什么。",
                       "Offer a concrete solution or a temporary fix; customers don't care what we can't do."),
    "time_and_contact": ("给出时间和联系方式", "Give a time and a contact",
                         "承诺明确的完成时间，并留下联系电话或下一步安排。",
                         "Commit to a concrete time and leave a number or next step."),
    "no_argue": ("不争辩、不指责", "Don't argue or blame",
                 "不要试图在争执中获胜，也不要把责任推给客户。",
                 "Don't try to win the argument or put the blame on the customer."),
    "no_flat_refusal": ("不直接拒绝", "No flat refusal",
                        "做不到的事要给出替代办法。", "When you can't, offer an alternative."),
    "no_overpromise": ("不作过度承诺", "No over-promising",
                       "界定可提供的服务范围，不作超出权限的承诺；超出权限先请示。",
                       "Keep to the service scope; ask for approval before promising beyond your authority."),
}


class ScenarioError(ValueError):
    """A scenario (or dynamics) file does not validate; names the file, key and line."""


@dataclass(frozen=True)
class Scenario:
    id: str
    title_zh: str
    title_en: str
    industry: str
    persona: str
    customer_name: str
    background_zh: str
    opening: str
    anger: int
    trust: int
    turn_limit: int
    fault: bool | None
    approval_limit: float | None
    escalation_branch: str
    lines: dict[str, tuple[str, ...]]
    path: str = ""


@dataclass
class Turn:
    index: int
    trainee: str
    signals: list[str]
    customer: str
    branch: str
    anger: int
    trust: int
    notes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Result:
    scenario_id: str
    outcome: str
    score: int
    principles: dict[str, int]
    feedback: list[dict]
    transcript: list[dict]
    turns: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# ---------------------------------------------------------------- loading

def _line_of(raw: str, needle: str) -> str:
    idx = raw.find(needle)
    return f", line {raw.count(chr(10), 0, idx) + 1}" if idx >= 0 and needle else ""


def parse_scenario(raw: str, path: str = "<scenario>") -> Scenario:
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None

    def fail(key: str, problem: str, needle: str | None = None):
        raise ScenarioError(f"{path}{_line_of(raw, needle if needle is not None else key.split('.')[-1])}: "
                            f"{key}: {problem}")

    def text(key, required=True):
        v = doc.get(key)
        if v is None and not required:
            return ""
        if not isinstance(v, str) or not v.strip():
            fail(key, "required, a non-empty string")
        return v.strip()

    sid = text("id")
    if not re.fullmatch(r"[a-z0-9_\-]+", sid):
        fail("id", f"must be lower-case letters, digits, _ or -, got {sid!r}")
    persona = doc.get("persona")
    if persona not in PERSONAS:
        fail("persona", f"must be one of {', '.join(PERSONAS)}, got {persona!r}")
    mood = doc.get("mood")
    if not isinstance(mood, dict):
        fail("mood", "required table [mood] with anger and trust (0–100)", "[mood]")
    for k in ("anger", "trust"):
        v = mood.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100:
            fail(f"mood.{k}", f"must be an integer 0–100, got {v!r}", k)
    limit = doc.get("turn_limit", 8)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 2 <= limit <= 30:
        fail("turn_limit", f"must be an integer 2–30, got {limit!r}")
    fault = doc.get("fault")
    if fault is not None and not isinstance(fault, bool):
        fail("fault", f"must be true or false, got {fault!r}")
    approval = doc.get("approval_limit")
    if approval is not None and (not isinstance(approval, (int, float)) or isinstance(approval, bool) or approval < 0):
        fail("approval_limit", f"must be a non-negative number, got {approval!r}")
    esc = doc.get("escalation_branch", "threatens_exposure" if persona == "influential" else "demands_manager")
    if esc not in ("demands_manager", "threatens_exposure"):
        fail("escalation_branch", f"must be demands_manager or threatens_exposure, got {esc!r}")
    branches = doc.get("branches")
    if not isinstance(branches, dict):
        fail("branches", "required table [branches] of customer lines", "[branches]")
    lines: dict[str, tuple[str, ...]] = {}
    for name, vals in branches.items():
        if name not in BRANCHES:
            fail(f"branches.{name}", f"unknown branch (expected {', '.join(BRANCHES)})", name)
        if isinstance(vals, str):
            vals = [vals]
        if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v.strip() for v in vals):
            fail(f"branches.{name}", "must be a non-empty list of lines", name)
        lines[name] = tuple(v.strip() for v in vals)
    for need in (*REQUIRED_BRANCHES, esc):
        if need not in lines:
            fail(f"branches.{need}", "missing (every scenario needs calms_down, still_upset, accepts "
                 "and its escalation branch)", "[branches]")
    return Scenario(
        id=sid, title_zh=text("title_zh"), title_en=text("title_en", required=False) or sid,
        industry=text("industry"), persona=persona, customer_name=text("customer_name"),
        background_zh=text("background_zh"), opening=text("opening"),
        anger=mood["anger"], trust=mood["trust"], turn_limit=limit, fault=fault,
        approval_limit=float(approval) if approval is not None else None,
        escalation_branch=esc, lines=lines, path=path)


def load_scenario(path) -> Scenario:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: cannot read: {exc}") from None
    return parse_scenario(raw, str(p))


def load_scenarios(directory=None) -> dict[str, Scenario]:
    """All *.toml scenarios of a directory (default: the shipped ones), by id."""
    d = Path(directory) if directory else SCENARIO_DIR
    out: dict[str, Scenario] = {}
    for p in sorted(d.glob("*.toml")):
        sc = load_scenario(p)
        if sc.id in out:
            raise ScenarioError(f"{p}: id: duplicate scenario id {sc.id!r} (also in {out[sc.id].path})")
        out[sc.id] = sc
    return out


@lru_cache(maxsize=4)
def load_dynamics(path: str | None = None) -> dict:
    p = Path(path) if path else DYNAMICS_PATH
    raw = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML: {exc}") from None
    effects = doc.get("effects", {})
    for sig in SIGNALS:
        e = effects.get(sig)
        if not isinstance(e, dict) or not all(isinstance(e.get(k), (int, float)) for k in ("anger", "trust")):
            raise ScenarioError(f"{p}{_line_of(raw, f'[effects.{sig}]')}: effects.{sig}: needs anger and trust numbers")
    for name, mults in doc.get("personas", {}).items():
        if name not in PERSONAS:
            raise ScenarioError(f"{p}{_line_of(raw, f'[personas.{name}]')}: personas.{name}: unknown persona")
        for sig, m in mults.items():
            if sig not in SIGNALS or not isinstance(m, (int, float)):
                raise ScenarioError(f"{p}{_line_of(raw, f'[personas.{name}]')}: personas.{name}.{sig}: "
                                    "unknown signal or not a number")
    th = doc.get("thresholds", {})
    for k in ("accept_trust", "accept_anger", "threat_anger", "escalate_anger"):
        if not isinstance(th.get(k), int):
            raise ScenarioError(f"{p}: thresholds.{k}: required integer")
    return {"effects": effects, "personas": doc.get("personas", {}), "thresholds": th}


# ---------------------------------------------------------------- reading the trainee

def classify_turn(text: str, *, fault: bool | None = None, approval_limit: float | None = None) -> tuple[list[str], list[str]]:
    """Signals of a trainee turn (from the reply checker) and the checker's risk codes."""
    ctx = {"fault": fault, "public": False}
    if approval_limit is not None:
        ctx["approval_limit"] = approval_limit
    r = check_reply(text, context=ctx)
    has = r.has
    codes = set(r.codes)
    sigs = []
    if has("feel"):
        sigs.append("acknowledged")
    if has("apology"):
        sigs.append("apologised")
    if has("question"):
        sigs.append("asked")
    if has("explain"):
        sigs.append("explained")
    if has("offer") or has("action"):
        sigs.append("offered")
    if has("time"):
        sigs.append("committed")
    if has("contact"):
        sigs.append("contact")
    if has("care"):
        sigs.append("thanked")
    if "argue" in codes:
        sigs.append("argued")
    if "blame" in codes:
        sigs.append("blamed")
    if "flat_refusal" in codes:
        sigs.append("refused")
    if "overpromise" in codes or "amount_over_limit" in codes:
        sigs.append("overpromised")
    if "bare_ack" in codes:
        sigs.append("bare_ack")
    if not sigs:
        sigs.append("nothing")
    risks = [c for c in r.codes if c in ("argue", "blame", "flat_refusal", "overpromise", "amount_over_limit",
                                          "bare_ack", "personal_data", "jargon")]
    return sigs, risks


def _clamp(v: float) -> int:
    return int(max(0, min(100, round(v))))


# ---------------------------------------------------------------- the session

class Session:
    def __init__(self, scenario: Scenario, seed: int = 0, dynamics: dict | None = None):
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(f"{scenario.id}:{seed}")
        self.dyn = dynamics or load_dynamics()
        self.anger = scenario.anger
        self.trust = scenario.trust
        self.turns: list[Turn] = []
        self.outcome: str | None = None
        self.threats = 0
        self.seen: set[str] = set()
        self.first_turn: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.opening = scenario.opening

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def _line(self, branch: str) -> str:
        options = self.scenario.lines.get(branch) or self.scenario.lines["still_upset"]
        return options[self.rng.randrange(len(options))]

    def reply(self, text) -> Turn:
        """The trainee speaks; returns the turn with the customer's answer."""
        if self.done:
            raise RuntimeError("the session has ended")
        text = "" if text is None else str(text)
        sc = self.scenario
        idx = len(self.turns) + 1
        sigs, risks = classify_turn(text, fault=sc.fault, approval_limit=sc.approval_limit)
        notes: list[str] = []
        eff = self.dyn["effects"]
        mult = self.dyn["personas"].get(sc.persona, {})
        d_anger = d_trust = 0.0
        for s in sigs:
            a, t = eff[s]["anger"], eff[s]["trust"]
            m = mult.get(s, 1.0)
            if s == "explained" and "acknowledged" not in self.seen and "acknowledged" not in sigs and self.anger >= 60:
                a, t = 6, 0
                notes.append("客户还在气头上就讲道理：先处理心情，再处理事情。")
            if s == "apologised" and sc.fault is False:
                a, t = a / 2, t / 2
            if s in ("acknowledged", "apologised", "asked") and self.counts.get(s, 0) >= 2:
                a, t = a / 3, t / 3  # the third "I understand" is worth less
            if s == "overpromised":
                notes.append("承诺超出服务范围或审批权限：界定可提供的服务范围，不作过度承诺。")
            d_anger += a * m
            d_trust += t * m
        for s in sigs:
            self.counts[s] = self.counts.get(s, 0) + 1
            self.first_turn.setdefault(s, idx)
        self.seen.update(sigs)
        for s, msg in (("argued", "与客户争辩，客户更生气了。"), ("blamed", "指责了客户，客户更生气了。"),
                       ("refused", "直接拒绝，没有给出替代办法。")):
            if s in sigs:
                notes.append(msg)
        self.anger = _clamp(self.anger + d_anger)
        self.trust = _clamp(self.trust + d_trust)
        th = self.dyn["thresholds"]
        offered_ever = "offered" in self.seen
        if self.threats >= 1 and (self.anger >= th["escalate_anger"]
                                  or (self.anger >= th["threat_anger"] and d_anger > 0)):
            branch = sc.escalation_branch
            self.outcome = "escalation"
        elif self.trust >= th["accept_trust"] and self.anger <= th["accept_anger"] and offered_ever:
            branch = "accepts"
            self.outcome = "agreement"
        elif self.anger >= th["threat_anger"]:
            branch = sc.escalation_branch
            self.threats += 1
        elif d_anger < 0:
            branch = "calms_down"
        else:
            branch = "still_upset"
        customer = self._line(branch)
        if self.outcome is None and idx >= sc.turn_limit:
            self.outcome = "turn_limit"
        turn = Turn(idx, text, sigs, customer, branch, self.anger, self.trust, notes, risks)
        self.turns.append(turn)
        return turn

    # ------------------------------------------------------------ scoring

    def principle_scores(self) -> dict[str, int]:
        ft = self.first_turn
        c = self.counts
        n = max(1, len(self.turns))
        scores = {}
        if "acknowledged" in ft:
            scores["feelings_first"] = 100 if ft["acknowledged"] == 1 else 70 if ft["acknowledged"] == 2 else 40
        else:
            scores["feelings_first"] = 0
        if self.scenario.fault is False:
            scores["apology"] = 100
        else:
            scores["apology"] = 100 if "apologised" in ft else 0
        scores["listen_facts"] = 100 if "asked" in ft else (50 if "explained" in ft else 0)
        scores["what_we_can_do"] = 100 if "offered" in ft else 0
        scores["time_and_contact"] = (60 if "committed" in ft else 0) + (40 if "contact" in ft else 0)
        scores["no_argue"] = max(0, 100 - 50 * (c.get("argued", 0) + c.get("blamed", 0)))
        scores["no_flat_refusal"] = max(0, 100 - 50 * c.get("refused", 0))
        scores["no_overpromise"] = max(0, 100 - 50 * c.get("overpromised", 0))
        if n and c.get("bare_ack", 0):
            scores["what_we_can_do"] = max(0, scores["what_we_can_do"] - 30 * c["bare_ack"])
        return scores

    def result(self) -> Result:
        principles = self.principle_scores()
        mean = sum(principles.values()) / len(principles)
        outcome = self.outcome or "unfinished"
        outcome_points = {"agreement": 100, "turn_limit": 40, "escalation": 0}.get(outcome, 20)
        score = _clamp(0.7 * mean + 0.3 * outcome_points)
        feedback = []
        for code, value in sorted(principles.items(), key=lambda kv: kv[1]):
            name_zh, name_en, tip_zh, tip_en = PRINCIPLES[code]
            if value < 100:
                feedback.append({"principle": code, "score": value, "name_zh": name_zh, "name_en": name_en,
                                 "advice_zh": tip_zh, "advice_en": tip_en})
        transcript = [{"speaker": "customer", "text": self.opening, "branch": "opening",
                       "anger": self.scenario.anger, "trust": self.scenario.trust}]
        for t in self.turns:
            transcript.append({"speaker": "trainee", "text": t.trainee, "signals": t.signals,
                               "findings": t.findings, "notes": t.notes})
            transcript.append({"speaker": "customer", "text": t.customer, "branch": t.branch,
                               "anger": t.anger, "trust": t.trust})
        return Result(self.scenario.id, outcome, score, principles, feedback, transcript, len(self.turns))

    @classmethod
    def replay(cls, scenario: Scenario, seed: int, trainee_lines) -> "Session":
        s = cls(scenario, seed)
        for line in trainee_lines:
            if s.done:
                break
            s.reply(line)
        return s


def run_script(scenario: Scenario, lines, seed: int = 0, *, repeat_last: bool = True) -> Result:
    """Play scripted trainee lines until the session ends (repeating the last line if
    the script runs out before the turn limit)."""
    s = Session(scenario, seed)
    i = 0
    lines = list(lines)
    while not s.done and lines:
        line = lines[i] if i < len(lines) else (lines[-1] if repeat_last else None)
        if line is None:
            break
        s.reply(line.replace("{name}", scenario.customer_name))
        i += 1
    return s.result()
