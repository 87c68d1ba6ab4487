import pytest

from shared.clients.clevertap import parse_upload_response
from shared.errors import RecordRejected, UpstreamUnavailable

SENT = [{"type": "profile", "identity": "a@x.com", "profileData": {"Email": "a@x.com"}},
        {"type": "event", "identity": "a@x.com", "evtName": "Charged", "evtData": {"order_id": "1"}}]


def test_success():
    result = parse_upload_response({"status": "success", "processed": 2, "unprocessed": []}, SENT)

    assert result.failed == {} and result.processed == 2


def test_partial_is_matched_by_echoed_record():
    body = {"status": "partial", "processed": 1,
            "unprocessed": [{"status": "fail", "code": 555, "error": "try later", "record": SENT[1]}]}

    result = parse_upload_response(body, SENT)

    assert list(result.failed) == [1]
    assert result.failed[1].retryable and result.failed[1].code == 555


def test_final_codes_are_not_retryable():
    body = {"status": "fail", "processed": 0,
            "unprocessed": [{"code": 523, "error": "identity missing", "record": SENT[0]},
                            {"code": 512, "error": "invalid", "record": SENT[1]}]}

    result = parse_upload_response(body, SENT)

    assert {i: f.retryable for i, f in result.failed.items()} == {0: False, 1: False}


@pytest.mark.parametrize("body", [None, [], {"status": "weird"}, {"status": "success", "unprocessed": "no"},
                                  {"status": "fail", "unprocessed": []}])
def test_unreadable_answers_are_never_success(body):
    with pytest.raises(UpstreamUnavailable):
        parse_upload_response(body, SENT)


def test_unmatched_unprocessed_record_is_parked_not_guessed():
    body = {"status": "partial", "processed": 1, "unprocessed": [{"code": 555, "record": {"other": 1}}]}

    with pytest.raises(RecordRejected):
        parse_upload_response(body, SENT)
