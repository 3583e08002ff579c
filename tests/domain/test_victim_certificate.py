"""The 被災証明書 (issue #19 §3): what it prints, and that the 2-D code's format stays frozen."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date

import pytest

from bcl_console.domain.certificate import SENTENCE_VICTIM, VictimRecord, victim_certificate
from bcl_console.domain.errors import InvalidInput
from bcl_console.domain.municipality import DEFAULT_FEES, CertificateType, parse_certificate_type
from bcl_console.domain.resident import ResidentStatus
from bcl_console.domain.signed_page import DICTIONARY, PagePayload, page_payloads, read_code
from tests.domain.test_certificate_forms import TODAY, TOWN, fields, person

HARM = "自家用車（軽自動車）が冠水し走行不能となった"
RECORD = VictimRecord(1, "令和8年5月東雲県豪雨", date(2026, 5, 6), "東雲県北山町大字本郷1番地", HARM, date(2026, 5, 9))
#: The preset dictionary of the back's code, format version 2, as first published.
DICTIONARY_SHA256 = "1c529449f80b138bd5844867a856dd422454b5c2178d580f9f4176598ff37bec"


def test_the_type_its_label_and_default_fee() -> None:
    ctype = parse_certificate_type("disaster-victim")
    assert ctype is CertificateType.DISASTER_VICTIM
    assert (ctype.label, ctype.short) == ("被災証明書", "被災")
    assert DEFAULT_FEES[ctype] == 0


def test_it_certifies_the_report_not_an_assessment() -> None:
    r = person("00000000001", "山田 太郎", "子", date(2001, 5, 1))  # anyone, not only the head
    content = victim_certificate(TOWN, r, RECORD, issued_on=TODAY)
    assert content.type is CertificateType.DISASTER_VICTIM and content.subject == r.resident_code
    (page,) = content.pages
    assert page.title == "被災証明書"
    assert [label for label, _ in page.fields] == ["被災者氏名", "住所", "災害名", "災害発生日", "被害の内容", "届出日"]
    f = fields(page)
    assert f["被災者氏名"] == "山田　太郎" and f["被害の内容"] == HARM
    assert f["災害発生日"] == "令和8年5月6日" and f["届出日"] == "令和8年5月9日"
    assert "被害の程度" not in f  # no damage class: that is the 罹災証明書's
    assert page.sentence == SENTENCE_VICTIM == "上記の者は、上記災害により被害を受けたことを届け出たことを証明する。"
    assert content.issuer == "北山町長 山本 健一"


def test_no_report_or_a_person_who_cannot_be_certified_is_refused() -> None:
    r = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1))
    with pytest.raises(InvalidInput, match="reported no harm"):
        victim_certificate(TOWN, r, None, issued_on=TODAY)
    with pytest.raises(InvalidInput, match="moved out"):
        victim_certificate(TOWN, replace(r, status=ResidentStatus.MOVED_OUT), RECORD, issued_on=TODAY)


def test_the_code_format_is_unchanged_and_carries_the_new_type() -> None:
    # The dictionary is part of format version 2: codes already printed must stay readable.
    assert hashlib.sha256(DICTIONARY).hexdigest() == DICTIONARY_SHA256
    r = person("00000000001", "山田 太郎", "世帯主", date(1975, 5, 1))
    content = victim_certificate(TOWN, r, RECORD, issued_on=TODAY)
    (payload,) = page_payloads(content, code="ABCD-EFGH-JKMN-PQRS", number="第 2026-000001 号",
                               issued_at="2026-06-17T10:00:00+09:00")
    back = read_code(PagePayload(payload.json_bytes, bytes(64)).code_bytes())
    body = json.loads(back.json_bytes)
    assert body["v"] == 2 and body["type"] == "disaster-victim" and body["title"] == "被災証明書"
    assert ["被害の内容", HARM] in body["fields"]
