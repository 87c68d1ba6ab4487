import json
import logging

from shared.logs import JsonFormatter, TextFormatter, _ContextFilter, log_context, mask_pii


def _render(formatter, message, *args, **extra):
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    _ContextFilter().filter(record)
    return formatter.format(record)


def test_json_lines_carry_context_and_extra():
    with log_context(account="acme", order_id="v1-01", task_id="t1", key="acme:v1-01:canceled"):
        line = _render(JsonFormatter(), "done: %s", "delivered", outcome="delivered")

    entry = json.loads(line)
    assert (entry["account"], entry["order_id"], entry["task_id"], entry["key"]) == (
        "acme", "v1-01", "t1", "acme:v1-01:canceled")
    assert (entry["msg"], entry["outcome"], entry["level"]) == ("done: delivered", "delivered", "info")


def test_text_format_for_terminals():
    with log_context(account="acme"):
        line = _render(TextFormatter(), "hello")

    assert "[account=acme] hello" in line


def test_personal_data_is_masked_everywhere():
    line = _render(JsonFormatter(), "customer jane.doe@example.com +5561992227222", email="joe@shop.com.br")
    text = _render(TextFormatter(), "customer jane.doe@example.com")

    assert "jane.doe@example.com" not in line and "joe@shop.com.br" not in line and "92227222" not in line
    assert "j***@example.com" in line and "j***@example.com" in text
    assert mask_pii("+5561992227222") == "+55***22"
    for written in ("+55 11 99999-8888", "+55 (11) 99999.8888", "(11) 99999-8888", "(011) 9999 8888"):
        masked = mask_pii(f"call {written} now")
        assert "9999" not in masked and masked.startswith("call ") and masked.endswith(" now"), masked
    # Dates, order ids and task ids are left alone.
    for plain in ("2026-11-27T10:02:13.1234567Z", "v1000001bench-01", "1172452900788-01", "retry in 12.5 s"):
        assert mask_pii(plain) == plain
