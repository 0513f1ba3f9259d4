"""Command-line logic for `qingting triage`, `qingting triage-train`, `qingting triage-eval`.

Each function takes argv (list of strings, without the command name), prints its
result and returns a process exit code (0 ok, 1 nothing to do / failed goal, 2 usage or
data error).  The models directory defaults to $QINGTING_DATA_DIR/models/triage
(QINGTING_DATA_DIR defaults to ./var).
"""
from __future__ import annotations

import argparse
import json
import sys


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1))


def cmd_triage(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="qingting triage", description="分析一条投诉文本，输出 JSON。Analyse one complaint text; prints JSON.")
    ap.add_argument("text", nargs="?", default="-", help="complaint text, or - to read standard input")
    ap.add_argument("--profile", default="general", help="industry profile: auto4s, finance, ecommerce, catering, medical, general")
    ap.add_argument("--channel")
    ap.add_argument("--subject")
    ap.add_argument("--repeat-count", type=int, default=0)
    ap.add_argument("--models-dir", help="default: $QINGTING_DATA_DIR/models/triage")
    ap.add_argument("--no-model", action="store_true", help="use the lexicon rules even if a model is active")
    ap.add_argument("--json", action="store_true", help="JSON output (the default)")
    ap.add_argument("--summary", action="store_true", help="one readable line instead of JSON")
    args = ap.parse_args(argv)
    from . import analyze
    from .model import load_active

    text = sys.stdin.read() if args.text == "-" else args.text
    model = "lexicon"
    if not args.no_model:
        try:
            model = load_active(args.models_dir) or "lexicon"
        except Exception as exc:  # a broken artefact must not stop triage
            print(f"warning: active model could not be loaded ({exc}); using lexicon rules", file=sys.stderr)
    t = analyze(text, profile=args.profile, channel=args.channel, subject=args.subject,
                repeat_count=args.repeat_count, model=model)
    if args.summary:
        c = t.category.choice
        print(f"{t.priority.code} | {c.level1_zh}/{c.level2_zh or c.label} ({c.confidence:.2f}) | {t.emotion.zh} {t.emotion.intensity:.2f} | "
              f"{'、'.join(p.zh for p in t.personas)} | {'、'.join(s.zh for s in t.signals) or '-'} | {t.nature.zh} | {t.priority.reason}")
    else:
        _print_json(t.to_dict())
    return 0


def _table_args(ap):
    ap.add_argument("--data", required=True, help="CSV/TSV (encoding detected) or XLSX file")
    ap.add_argument("--text-col", required=True)
    ap.add_argument("--label-col", required=True)
    ap.add_argument("--date-col", help="sort rows by this column (oldest first) before use")
    ap.add_argument("--sheet", help="XLSX sheet name (default: the first)")
    ap.add_argument("--models-dir", help="default: $QINGTING_DATA_DIR/models/triage")
    ap.add_argument("--json", action="store_true")


def _read(args):
    from .tables import TableError, read_table

    cols = [args.text_col, args.label_col] + ([args.date_col] if args.date_col else [])
    try:
        data = read_table(args.data, cols, sheet=args.sheet)
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    texts, labels = data[args.text_col], data[args.label_col]
    if args.date_col:
        order = sorted(range(len(texts)), key=lambda i: data[args.date_col][i])
        texts = [texts[i] for i in order]
        labels = [labels[i] for i in order]
    return texts, labels


def _print_eval(res: dict, title: str) -> None:
    print(title)
    print(f"  n={res['n']}  accuracy={res['accuracy']:.4f}  macro_f1={res['macro_f1']:.4f}  top3_accuracy={res['top3_accuracy']:.4f}")
    if res.get("per_class"):
        print("  per class:                               precision  recall   f1   support")
        for c, v in sorted(res["per_class"].items(), key=lambda kv: -kv[1]["support"]):
            print(f"    {c[:36]:36s} {v['precision']:9.3f} {v['recall']:7.3f} {v['f1']:6.3f} {v['support']:6d}")
    if res.get("confusion"):
        labels = res["confusion"]["labels"]
        print("  confusion matrix (rows: true, columns: predicted; label numbers below):")
        for i, c in enumerate(labels):
            print(f"    [{i:2d}] {c}")
        print("        " + " ".join(f"{i:4d}" for i in range(len(labels))))
        for i, row in enumerate(res["confusion"]["matrix"]):
            print(f"    {i:2d}  " + " ".join(f"{v:4d}" for v in row))
    if res.get("unknown_labels"):
        print(f"  labels the model never saw: {', '.join(res['unknown_labels'])}")


def cmd_train(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="qingting triage-train", description="训练投诉分类模型。Train the complaint category model from a labelled file.")
    _table_args(ap)
    ap.add_argument("--profile", default=None, help="industry profile whose category lexicon feeds the model")
    ap.add_argument("--features", default="auto", help="auto (measured choice) or one of the candidate names")
    ap.add_argument("--no-activate", action="store_true", help="save the version without making it active")
    args = ap.parse_args(argv)
    from .model import CANDIDATES, save_model, train

    if args.features != "auto" and args.features not in CANDIDATES:
        print(f"error: --features must be auto or one of {', '.join(CANDIDATES)}", file=sys.stderr)
        return 2
    rows = _read(args)
    if rows is None:
        return 2
    texts, labels = rows
    try:
        model = train(texts, labels, profile=args.profile, features=args.features)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    version = save_model(model, args.models_dir, activate_now=not args.no_activate)
    out = {"version": version, "active": not args.no_activate, "n_train": model.n_train,
           "labels": model.labels, "features": model.config.get("name"), "selection": model.metrics.get("selection"),
           "train_seconds": model.metrics.get("train_seconds")}
    if args.json:
        _print_json(out)
    else:
        print(f"trained model {version} on {model.n_train} complaints, {len(model.labels)} categories, "
              f"features {out['features']}, {out['train_seconds']} s; {'active' if out['active'] else 'saved (not active)'}")
        for name, m in (out["selection"] or {}).items():
            print(f"  candidate {name}: macro_f1={m['macro_f1']:.3f} accuracy={m['accuracy']:.3f} top3={m['top3_accuracy']:.3f} (last 20% of the data)")
    return 0


def cmd_eval(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="qingting triage-eval", description="评估当前分类模型。Evaluate the active category model on a labelled file.")
    _table_args(ap)
    ap.add_argument("--version", help="evaluate this version instead of the active one")
    args = ap.parse_args(argv)
    from .model import default_models_dir, load_active, load_model

    models_dir = args.models_dir or default_models_dir()
    try:
        from pathlib import Path

        model = load_model(Path(models_dir) / args.version) if args.version else load_active(models_dir)
    except (OSError, ValueError) as exc:
        print(f"error: cannot load model: {exc}", file=sys.stderr)
        return 2
    if model is None:
        print(f"error: no active model in {models_dir}; run qingting triage-train first", file=sys.stderr)
        return 1
    rows = _read(args)
    if rows is None:
        return 2
    from .model import evaluate

    res = evaluate(model, *rows)
    res["model_version"] = model.version
    if args.json:
        _print_json(res)
    else:
        _print_eval(res, f"model {model.version} on {args.data}")
    return 0


def main(argv=None) -> int:  # convenience: python -m qingting.triage.cli triage|train|eval ...
    argv = list(sys.argv[1:] if argv is None else argv)
    cmds = {"triage": cmd_triage, "triage-train": cmd_train, "train": cmd_train, "triage-eval": cmd_eval, "eval": cmd_eval}
    if not argv or argv[0] not in cmds:
        print("usage: python -m qingting.triage.cli {triage|triage-train|triage-eval} ...", file=sys.stderr)
        return 2
    return cmds[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
