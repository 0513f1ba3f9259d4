"""Quiz on the handling principles (pure): load ``quiz.toml`` and grade answers."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

QUIZ_PATH = Path(__file__).resolve().parent / "quiz.toml"


class QuizError(ValueError):
    """The quiz file does not validate (names the file, question and key)."""


@lru_cache(maxsize=4)
def load_quiz(path: str | None = None) -> tuple[dict, ...]:
    p = Path(path) if path else QUIZ_PATH
    raw = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise QuizError(f"{p}: not valid TOML: {exc}") from None
    out, seen = [], set()
    for i, q in enumerate(doc.get("questions", [])):
        qid = q.get("id")
        where = f"{p}: questions[{i}] ({qid})"
        if not isinstance(qid, str) or qid in seen:
            raise QuizError(f"{where}.id: missing or duplicate")
        seen.add(qid)
        opts = q.get("options")
        if not isinstance(opts, list) or len(opts) < 2 or not all(isinstance(o, str) for o in opts):
            raise QuizError(f"{where}.options: at least two strings")
        ans = q.get("answer")
        ans_set = set(ans) if isinstance(ans, list) else {ans}
        if not ans_set or not all(isinstance(a, int) and 0 <= a < len(opts) for a in ans_set):
            raise QuizError(f"{where}.answer: option index (0-based) or list of indexes")
        for key in ("principle", "question_zh", "explain_zh"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                raise QuizError(f"{where}.{key}: required string")
        out.append({**q, "answer_set": frozenset(ans_set), "multiple": isinstance(ans, list)})
    if not out:
        raise QuizError(f"{p}: no questions")
    return tuple(out)


def grade_quiz(answers: dict, questions=None) -> dict:
    """answers: {question id: index or list of indexes}. Unanswered count as wrong.
    Returns score (0–100), correct, total, per-question detail and per-principle percent."""
    questions = questions or load_quiz()
    answers = answers if isinstance(answers, dict) else {}
    detail, by_principle = [], {}
    correct = 0
    for q in questions:
        given = answers.get(q["id"])
        if isinstance(given, (list, tuple, set)):
            given_set = {g for g in given if isinstance(g, int)}
        elif isinstance(given, int) and not isinstance(given, bool):
            given_set = {given}
        else:
            given_set = set()
        ok = given_set == set(q["answer_set"])
        correct += ok
        tot = by_principle.setdefault(q["principle"], [0, 0])
        tot[0] += ok
        tot[1] += 1
        detail.append({"id": q["id"], "correct": ok, "answer": sorted(q["answer_set"]),
                       "given": sorted(given_set), "explain_zh": q["explain_zh"]})
    total = len(questions)
    return {"score": round(100 * correct / total), "correct": correct, "total": total, "questions": detail,
            "by_principle": {k: round(100 * v[0] / v[1]) for k, v in by_principle.items()}}
