import csv
import io
import json

from openpyxl import Workbook

from qingting.coaching.cli import cmd_reply_check


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = cmd_reply_check(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_single_text_json():
    code, out, _ = run(["您的留言已收悉。", "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["score"] < 30
    assert "bare_ack" in [f["code"] for f in data["findings"]]
    assert all({"code", "severity", "message_zh", "message_en", "spans"} <= set(f) for f in data["findings"])


def test_single_text_human_output_quotes_the_span():
    code, out, _ = run(["这是您自己操作不当造成的。", "--fault", "no"])
    assert code == 0 and "blame" in out and "您自己" in out


def test_batch_csv_gbk_adds_columns(tmp_path):
    src = tmp_path / "in.csv"
    rows = [["编号", "留言", "答复"], ["1", "车修了三天还没好", "已收悉"],
            ["2", "退款没到账", "非常抱歉给您带来不便，经核实是银行延迟，我们已为您重新发起退款，24小时内到账，客服电话 400-800-1234。"]]
    with src.open("w", encoding="gbk", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "out.csv"
    code, msg, err = run(["--data", str(src), "--text-col", "答复", "--message-col", "留言", "--out", str(out)])
    assert code == 0, err
    got = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["编号"] for r in got] == ["1", "2"]
    assert int(got[0]["score"]) < int(got[1]["score"])
    assert "bare_ack" in got[0]["findings"].split(";")


def test_batch_xlsx(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["reply"])
    ws.append(["We have received your complaint."])
    ws.append([None])
    src = tmp_path / "in.xlsx"
    wb.save(src)
    out = tmp_path / "out.csv"
    code, _, err = run(["--data", str(src), "--text-col", "reply", "--out", str(out)])
    assert code == 0, err
    got = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(got) == 2 and got[1]["findings"] == "empty"


def test_batch_unknown_column_is_a_clear_error(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    code, _, err = run(["--data", str(src), "--text-col", "答复", "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "答复" in err and "a, b" in err


def test_usage_errors():
    assert run([])[0] == 2
    assert run(["--data", "/nonexistent.csv", "--text-col", "x", "--out", "/tmp/x.csv"])[0] == 2
