"""qingting triage-train: from a labelled file (--data …, see --help) or from the database
(--from-db: categories agents confirmed or corrected, i.e. the active-learning labels)."""
import json
import sys

from django.conf import settings

from qingting.triage.cli import cmd_train

from ._passthrough import PassthroughCommand


def train_from_database(args) -> int:
    import argparse

    from qingting.complaints.models import Complaint, TrainingLabel
    from qingting.complaints.triage_link import reset_model_cache, triage_text
    from qingting.triage.model import save_model, train

    ap = argparse.ArgumentParser(prog="qingting triage-train --from-db")
    ap.add_argument("--from-db", action="store_true")
    ap.add_argument("--models-dir", default=str(settings.DATA_DIR / "models" / "triage"))
    ap.add_argument("--level", choices=["1", "2"], default="2", help="train on level-1 or level-2 categories")
    ap.add_argument("--profile", default=None)
    ap.add_argument("--min-per-class", type=int, default=5)
    ap.add_argument("--no-activate", action="store_true")
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args(args)
    # The latest label per complaint wins; confirmed categories count as labels too.
    labels: dict[int, str] = {}
    confirmed = Complaint.objects.filter(category_confirmed=True, category__isnull=False)
    if opts.profile:
        confirmed = confirmed.filter(profile__code=opts.profile)
    for pk, code, parent in confirmed.values_list("pk", "category__code", "category__parent__code").iterator():
        labels[pk] = parent if opts.level == "1" and parent else code
    corrections = TrainingLabel.objects.order_by("created_at", "id").values_list(
        "complaint_id", "category__code", "category__parent__code")
    for pk, code, parent in corrections.iterator():
        labels[pk] = parent if opts.level == "1" and parent else code
    texts, ys = [], []
    for pk, subject, description in Complaint.objects.filter(pk__in=list(labels)).values_list(
            "pk", "subject", "description").iterator():
        texts.append(triage_text(subject, description)[0])
        ys.append(labels[pk])
    counts: dict[str, int] = {}
    for y in ys:
        counts[y] = counts.get(y, 0) + 1
    keep = {y for y, n in counts.items() if n >= opts.min_per_class}
    pairs = [(t, y) for t, y in zip(texts, ys) if y in keep]
    if len(keep) < 2 or len(pairs) < 20:
        print(f"not enough labelled complaints to train: {len(pairs)} in {len(keep)} categories with at least "
              f"{opts.min_per_class} each (需要至少 2 个类别、20 条已确认类别的投诉)", file=sys.stderr)
        return 1
    model = train([t for t, _ in pairs], [y for _, y in pairs], profile=opts.profile)
    version = save_model(model, opts.models_dir, activate_now=not opts.no_activate)
    reset_model_cache()
    out = {"version": version, "n_train": model.n_train, "labels": model.labels, "active": not opts.no_activate,
           "source": "database"}
    print(json.dumps(out, ensure_ascii=False) if opts.json else
          f"trained model {version} on {model.n_train} labelled complaints, {len(model.labels)} categories")
    return 0


class Command(PassthroughCommand):
    help = ("训练投诉分类模型：qingting triage-train --data FILE --text-col C --label-col L，"
            "或 qingting triage-train --from-db（使用专员确认/更正过的类别）")
    target = staticmethod(cmd_train)
    needs_models_dir = True

    def run(self, args):
        if "--from-db" in args:
            return train_from_database(args)
        return cmd_train(args)
