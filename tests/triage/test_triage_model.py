import csv
import time

import numpy as np
import pytest

from _triage_helpers import TEMPLATES, synthetic

from qingting.triage import analyze, set_active_model
from qingting.triage.model import (CANDIDATES, RANKERS, _artifact, _fit, activate, active_version, evaluate,
                                   list_versions, load_active, load_model, prepare, save_model, train)

@pytest.fixture(autouse=True)
def _reset():
    set_active_model(None)
    yield
    set_active_model(None)


@pytest.fixture(scope="module")
def model():
    texts, labels = synthetic(150)
    return train(texts, labels, profile="auto4s")


def test_train_and_evaluate(model):
    texts, labels = synthetic(60, seed=2)
    res = evaluate(model, texts, labels)
    assert res["n"] == 60 and res["accuracy"] > 0.9 and res["macro_f1"] > 0.9 and res["top3_accuracy"] == 1.0
    assert set(res["per_class"]) == set(TEMPLATES)
    assert len(res["confusion"]["matrix"]) == len(res["confusion"]["labels"])
    assert model.config["name"] in CANDIDATES and model.metrics["selection"]


@pytest.mark.parametrize("name", ["char12+words+lex", "char12+lex", "char13+lex", "words"])
def test_fast_inference_equals_scikit_learn_decision(model, name):
    """The artefact's own scoring (both lookup paths) must reproduce the fitted linear SVM."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from qingting.triage.model import _lex_block, extract

    texts, labels = synthetic(80, seed=3)
    prepared = [prepare(t) for t in texts]
    cfg = dict(CANDIDATES[name])
    classes, features, idf, coef, intercept, codes, lex_coef = _fit(prepared, labels, cfg, model.lex_terms)
    vec = TfidfVectorizer(analyzer=lambda t: extract(t, cfg), sublinear_tf=True, dtype=np.float32)
    blocks = [vec.fit_transform(prepared)] + ([_lex_block(prepared, codes, model.lex_terms, cfg["lexicon"])] if codes else [])
    X = hstack(blocks).tocsr()
    clf = LinearSVC(C=cfg["C"], class_weight="balanced", max_iter=5000).fit(X, labels)
    from qingting.triage.model import ModelArtifact
    art = ModelArtifact(classes, cfg, features, idf, coef, intercept, codes, {c: model.lex_terms[c] for c in codes}, lex_coef)
    probe = ["刹车异响，发动机抖动", "态度恶劣", "完全无关的句子", "😀", "Ｗ：ｘ w:x"]
    mine = np.array([art._scores(prepare(t))[0] for t in probe])
    pb = [vec.transform([prepare(t) for t in probe])]
    if codes:
        pb.append(_lex_block([prepare(t) for t in probe], codes, model.lex_terms, cfg["lexicon"]))
    ref = clf.decision_function(hstack(pb))
    assert np.allclose(mine, ref, atol=1e-4)


def test_rankers_reproduce_scikit_learn_and_the_svm_decides(model):
    """Every scorer's columns equal its scikit-learn model; the SVM's best label comes first,
    the ensemble orders the rest."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.svm import LinearSVC

    from qingting.triage.model import ModelArtifact, _lex_block, extract

    texts, labels = synthetic(80, seed=3)
    prepared = [prepare(t) for t in texts]
    cfg = dict(CANDIDATES["char12+lex"])
    classes, features, idf, coef, intercept, codes, lex_coef = _fit(prepared, labels, cfg, model.lex_terms, RANKERS)
    vec = TfidfVectorizer(analyzer=lambda t: extract(t, cfg), sublinear_tf=True, dtype=np.float32)
    X = hstack([vec.fit_transform(prepared), _lex_block(prepared, codes, model.lex_terms, cfg["lexicon"])]).tocsr()
    probe = ["刹车异响，发动机抖动", "态度恶劣", "完全无关的句子", "烧机油 刹车片"]
    P = hstack([vec.transform([prepare(t) for t in probe]),
                _lex_block([prepare(t) for t in probe], codes, model.lex_terms, cfg["lexicon"])]).tocsr()
    cent = np.vstack([np.asarray(X[np.array(labels) == c].mean(axis=0)).ravel() for c in classes])
    refs = [LinearSVC(C=cfg["C"], class_weight="balanced", max_iter=5000).fit(X, labels).decision_function(P),
            LogisticRegression(C=10.0, class_weight="balanced", solver="newton-cg").fit(X, labels).decision_function(P),
            ComplementNB(alpha=0.3).fit(X, labels).predict_joint_log_proba(P),
            MultinomialNB(alpha=0.1).fit(X, labels).predict_joint_log_proba(P),
            P @ (cent / np.linalg.norm(cent, axis=1, keepdims=True)).T]
    art = ModelArtifact(classes, cfg, features, idf, coef, intercept, codes, {c: model.lex_terms[c] for c in codes},
                        lex_coef, components=RANKERS, component_temperatures=(3.0, 1.0, 1.0, 1.0, 4.0), temperature=0.5)
    k = len(classes)
    for i, t in enumerate(probe):
        raw = art._raw(prepare(t))[0]
        for c, ref in enumerate(refs):
            assert np.allclose(raw[c * k:(c + 1) * k], ref[i], atol=1e-3), (RANKERS[c], t)
        top = art.predict_top([t], k=3)[0]
        assert top[0][0] == classes[int(np.argmax(refs[0][i]))]
        assert top[1][1] >= top[2][1] and abs(sum(p for _, p in art.predict_top([t], k=k)[0]) - 1) < 1e-4


def test_single_scorer_artefact_still_loads(tmp_path, model):
    """Artefacts saved before the ranking ensemble (no 'components' in meta) rank by the SVM."""
    import json

    texts, labels = synthetic(80, seed=5)
    old = _artifact([prepare(t) for t in texts], labels, dict(CANDIDATES["char12+lex"]), model.lex_terms, "auto4s")
    v = save_model(old, tmp_path)
    meta = json.loads((tmp_path / v / "meta.json").read_text(encoding="utf-8"))
    del meta["components"], meta["component_temperatures"]
    (tmp_path / v / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    loaded = load_model(tmp_path / v)
    assert loaded.components == ("svm",) and loaded.temperature == 3.0
    probe = ["刹车异响", "态度恶劣，挂电话", "发动机抖动"]
    for t in probe:
        scores = loaded._scores(prepare(t))[0]
        assert [label for label, _ in loaded.predict_top([t], k=3)[0]] == [loaded.labels[i] for i in np.argsort(-scores)[:3]]


def test_save_activate_rollback_and_load(tmp_path, model):
    v1 = save_model(model, tmp_path)
    assert active_version(tmp_path) == v1
    assert (tmp_path / v1 / "metrics.json").is_file()
    v2 = save_model(model, tmp_path, activate_now=False)
    assert active_version(tmp_path) == v1  # saved, not switched
    activate(tmp_path, v2)
    assert active_version(tmp_path) == v2
    activate(tmp_path, v1)  # rollback: the old version is still there
    assert active_version(tmp_path) == v1
    assert [v["version"] for v in list_versions(tmp_path)] == sorted([v1, v2])
    with pytest.raises(FileNotFoundError):
        activate(tmp_path, "../etc")
    t0 = time.perf_counter()
    loaded = load_active(tmp_path)
    assert time.perf_counter() - t0 < 2.0
    assert loaded.version == v1 and loaded.labels == model.labels
    assert loaded.components == model.components and loaded.components in (RANKERS, ("svm",))
    assert loaded.component_temperatures == model.component_temperatures and loaded.temperature == model.temperature
    texts, labels = synthetic(30, seed=4)
    assert loaded.predict(texts) == model.predict(texts)
    assert not list(tmp_path.glob(".tmp-*")) and not list(tmp_path.glob(".ACTIVE*"))


def test_load_active_without_model_is_none(tmp_path):
    assert load_active(tmp_path) is None


def test_analyze_uses_model_with_evidence(model):
    text = "发动机怠速抖动，烧机油"
    t = analyze(text, model=model, profile="auto4s")
    assert t.category.source == "model" and t.category.choice.label == "发动机"
    assert t.category.choice.level2 == "engine" and t.category.choice.level1 == "product_quality"
    assert len(t.category.alternatives) == 2
    assert 0 < t.category.choice.confidence <= 1
    located = [e for e in t.category.evidence if e.start is not None]
    assert located and all(text[e.start:e.end] == e.text for e in located)
    set_active_model(model)
    assert analyze(text).category.source == "model"
    assert analyze(text, model="lexicon").category.source == "lexicon"


def test_train_rejects_single_label():
    with pytest.raises(ValueError):
        train(["a", "b"], ["x", "x"])


def test_read_table_gbk_csv_and_xlsx(tmp_path):
    from openpyxl import Workbook

    from qingting.triage.tables import TableError, read_table

    p = tmp_path / "gbk.csv"
    with open(p, "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f)
        w.writerow(["编号", "投诉内容", "类别"])
        w.writerow(["1", "发动机异响，烧机油严重，怠速抖动", "发动机"])
        w.writerow(["2", "销售顾问态度恶劣，不理人，还挂电话", "服务态度"])
    data = read_table(p, ["投诉内容", "类别"])
    assert data["类别"] == ["发动机", "服务态度"] and "烧机油" in data["投诉内容"][0]
    wb = Workbook()
    ws = wb.active
    ws.append(["text", "label"])
    ws.append(["刹车异响", "制动系"])
    ws.append([None, None])
    ws.append(["车门生锈", 5])
    wb.save(tmp_path / "x.xlsx")
    data = read_table(tmp_path / "x.xlsx", ["text", "label"])
    assert data == {"text": ["刹车异响", "车门生锈"], "label": ["制动系", "5"]}
    with pytest.raises(TableError, match="available: 编号"):
        read_table(p, ["正文"])


def test_ensure_active_model_follows_the_pointer(tmp_path, model):
    from qingting.triage import ensure_active_model, get_active_model

    assert ensure_active_model(tmp_path) is None and get_active_model() is None
    v1 = save_model(model, tmp_path)
    assert ensure_active_model(tmp_path).version == v1
    same = get_active_model()
    assert ensure_active_model(tmp_path) is same  # no reload when unchanged
    v2 = save_model(model, tmp_path)
    assert ensure_active_model(tmp_path).version == v2
    assert analyze("发动机抖动").model_version == v2
    activate(tmp_path, v1)
    assert ensure_active_model(tmp_path).version == v1
