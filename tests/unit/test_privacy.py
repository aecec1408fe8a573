"""Masking of e-mail addresses, phone numbers and resident ID numbers on public surfaces."""

from __future__ import annotations

import logging

import pytest

from askwiki.cli.output import configure_logging
from askwiki.privacy import QueryStringFilter, is_resident_id, mask_personal

# A valid ID (birth date 1990-03-07, check digit X) and the same digits with a wrong check digit.
VALID_ID = "11010519900307451X"
WRONG_CHECK_ID = "110105199003074511"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Write to zhang.san@example.com for access", "Write to z***@example.com for access"),
        ("联系 li_si+wiki@corp.example.cn 获取权限", "联系 l***@corp.example.cn 获取权限"),
        ("我的手机号是13812345678，请回电", "我的手机号是*******5678，请回电"),
        ("手机 138 1234 5678", "手机 *** **** 5678"),
        ("call +86 138-1234-5678 today", "call +** ***-****-5678 today"),
        ("电话：+8613812345678", "电话：+*********5678"),
        ("Call me at +1 415 555 0100.", "Call me at +* *** *** 0100."),
        ("London office: +44 20 7946 0958", "London office: +** ** **** 0958"),
        ("座机 010-12345678 转 8", "座机 ***-****5678 转 8"),
        ("US line (415) 555-0100", "US line (***) ***-0100"),
        (f"身份证号 {VALID_ID} 查不到", f"身份证号 {'*' * 14}451X 查不到"),
        (f"ID {VALID_ID.lower()}", f"ID {'*' * 14}451x"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "How do I upgrade from 2.3.10 to 3.10.12?",
        "发布日期是2024-01-15，会议在2024年3月7日",
        "The meeting is on 2025-06-01 at 14:30",
        "价格是¥13800元，折后 1380.00",
        "Order number 202401150001234567 was shipped",
        f"订单号 {WRONG_CHECK_ID} 未发货",
        "Which release came out in 1999 or 2013?",
        "Python 3.12 needs glibc 2.28 and node@18.2.0",
        "Ticket #13812345 and build 4.15.5550100",
        "ISBN 978-7-111-54742-6",
        "Install with pip install askwiki==1.2.3; git tag v13.8.1",
        "Score improved by +12 points, +3.5%",
        "IP 192.168.100.200 and port 8080",
        "timestamp 1717171717 in seconds",
        "",
    ],
)
def test_ordinary_numbers_and_text_stay(text: str) -> None:
    assert mask_personal(text) == text


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        (VALID_ID, True),
        (WRONG_CHECK_ID, False),
        ("110105199013074519", False),  # month 13
        ("110105180003074519", False),  # before 1900
        ("11010519900307451", False),  # 17 characters
    ],
)
def test_resident_id_needs_a_birth_date_and_check_digit(number: str, valid: bool) -> None:
    assert is_resident_id(number) is valid


def _access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 303),
        None,
    )


def test_access_log_loses_the_query_string_that_holds_the_question() -> None:
    record = _access_record("/ask?q=my+phone+is+13812345678")
    assert QueryStringFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /ask?… HTTP/1.1" 303'


@pytest.mark.parametrize(("log_questions", "kept"), [(False, False), (True, True)])
def test_configured_logging_filters_the_access_log_unless_questions_are_logged(
    log_questions: bool, kept: bool
) -> None:
    configure_logging("INFO", log_questions=log_questions)
    record = _access_record("/questions?q=secret")
    for log_filter in logging.getLogger("uvicorn.access").filters:
        assert not isinstance(log_filter, logging.Filter) or log_filter.filter(record)
    assert ("secret" in record.getMessage()) is kept
