import csv
import json

from qingting.triage.cli import cmd_eval, cmd_train, cmd_triage

from _triage_helpers import synthetic


def test_cmd_triage_prints_json(capsys, tmp_path):
    assert cmd_triage(["刹车失灵，差点撞车！", "--profile", "auto4s", "--models-dir", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["priority"]["code"] == "P1" and d["model_version"] == "lexicon"


def test_train_then_eval_from_csv(capsys, tmp_path):
    texts, labels = synthetic(120)
    data = tmp_path / "history.csv"
    with open(data, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["日期", "内容", "类别"])
        for i, (t, y) in enumerate(zip(texts, labels)):
            w.writerow([f"2024-01-{i % 28 + 1:02d}", t, y])
    models = tmp_path / "models"
    args = ["--data", str(data), "--text-col", "内容", "--label-col", "类别", "--models-dir", str(models)]
    assert cmd_train(args + ["--date-col", "日期", "--profile", "auto4s", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["active"] and out["n_train"] == 120 and (models / out["version"]).is_dir()
    assert cmd_eval(args + ["--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "top3_accuracy", "n"} <= res.keys() and res["n"] == 120 and res["accuracy"] > 0.9
    assert cmd_eval(args) == 0
    assert "confusion matrix" in capsys.readouterr().out
    assert cmd_triage(["发动机抖动", "--models-dir", str(models)]) == 0
    assert json.loads(capsys.readouterr().out)["model_version"] == out["version"]


def test_eval_without_model_and_bad_column(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\nx,y\n", encoding="utf-8")
    assert cmd_eval(["--data", str(data), "--text-col", "a", "--label-col", "b", "--models-dir", str(tmp_path / "m")]) == 1
    assert "no active model" in capsys.readouterr().err
    assert cmd_train(["--data", str(data), "--text-col", "nope", "--label-col", "b", "--models-dir", str(tmp_path / "m")]) == 2
    assert "column(s) not found: nope" in capsys.readouterr().err
