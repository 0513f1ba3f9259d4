from qingting.triage.pii import find_pii, id_checksum_ok, luhn_ok, mask_text, vin_checksum_ok


def kinds(text):
    return [(s.kind, s.text) for s in find_pii(text)]


def test_mobile_landline_email():
    got = kinds("联系我13812345678或座机010-62345678，邮箱 li.si@example.com.cn，客服400-820-8820")
    assert ("mobile", "13812345678") in got
    assert ("landline", "010-62345678") in got
    assert ("email", "li.si@example.com.cn") in got
    assert ("landline", "400-820-8820") in got


def test_landline_needs_separator_or_cue():
    # An order number is not a phone number; digits after 电话 are.
    assert kinds("订单号 02162345678 未发货") == []
    assert ("landline", "62345678") in kinds("店里电话62345678没人接")


def test_id_card_checksum_verified():
    assert id_checksum_ok("11010519491231002X")
    assert ("id_card", "11010519491231002X") in kinds("身份证11010519491231002X")
    assert not any(k == "id_card" for k, _ in kinds("身份证110105194912310021"))  # bad check digit


def test_bank_card_luhn_and_order_numbers():
    assert luhn_ok("6222020200001234562")
    assert ("bank_card", "6222 0202 0000 1234 562") in kinds("卡号6222 0202 0000 1234 562被盗刷")
    assert not any(k == "bank_card" for k, _ in kinds("卡号6222020200001234565"))  # Luhn fails
    # The complaint numbers of the car data (20 digits) are not cards
    assert kinds("投诉编号20240228224857501019") == []


def test_email_right_after_chinese_text():
    assert kinds("邮箱a@b.cn，或者发到张三zhang@example.com") == [("email", "a@b.cn"), ("email", "zhang@example.com")]


def test_plate_and_vin():
    got = kinds("车牌沪A·D12345，另一辆京N88M66，车架号LSVAM4187C2184847")
    assert ("plate", "沪A·D12345") in got and ("plate", "京N88M66") in got
    assert vin_checksum_ok("LSVAM4187C2184847")
    assert ("vin", "LSVAM4187C2184847") in got
    assert not any(k == "vin" for k, _ in kinds("型号ABCDEFGH123456789说明"))


def test_mask_text_keeps_head_and_tail_and_other_text():
    masked = mask_text("我是张三，手机13812345678，身份证11010519491231002X。")
    assert "13812345678" not in masked and "138****5678" in masked
    assert "11010519491231002X" not in masked and masked.startswith("我是张三")
    assert len(masked) == len("我是张三，手机13812345678，身份证11010519491231002X。")


def test_full_width_digits_found_at_original_offsets():
    text = "手机：１３８１２３４５６７８"
    (span,) = find_pii(text)
    assert span.kind == "mobile" and text[span.start:span.end] == "１３８１２３４５６７８"


def test_mask_text_on_huge_and_odd_input():
    assert mask_text(None) == ""
    big = ("无关文字" * 50_000) + "13812345678"
    assert mask_text(big).endswith("138****5678")
