"""HL7 v2 messages (tests/fixtures/intake/hl7) → items and ACKs: AA, AE naming the field, AR for the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from careroute.intake.contract import InboundItemIn
from careroute.intake.hl7v2 import (
    Hl7Config,
    ack_for,
    handle_batch,
    handle_message,
    parse_ts,
    process_message,
    split_batch,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "hl7"
NOW = datetime(2026, 10, 5, 15, 30, tzinfo=UTC)
CLINIC = Hl7Config(default_tz=ZoneInfo("America/New_York"))


def fixture(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode()


def segments(ack: str) -> dict[str, list[str]]:
    return {seg[:3]: seg.split("|") for seg in ack.split("\r") if seg}


def test_an_oru_with_a_critical_potassium() -> None:
    [item], ack = handle_message(fixture("oru_potassium_hh.hl7"), config=CLINIC, now=NOW)
    InboundItemIn.model_validate(item.to_dict())
    assert (item.channel, item.external_id) == ("lab", "PIEDMONT REF LAB:PRL000417")
    assert item.received_at.isoformat() == "2026-10-05T11:30:12-04:00"
    assert (item.patient.mrn, item.patient.name, item.patient.dob, item.patient.phone) == (
        "FM155208",
        "LAMAR Q TIDWELL",
        "1949-06-30",
        "478-555-0134",
    )
    md = item.metadata
    assert (md["abnormal_flag"], md["test"], md["value"], md["units"], md["reference_range"]) == (
        "HH",
        "Potassium",
        "6.8",
        "mmol/L",
        "3.5-5.1",
    )
    assert [r["test"] for r in md["results"]] == ["Sodium", "Potassium", "Glucose"]
    assert md["results"][1]["comment"].startswith("Critical result telephoned")
    assert md["ordering_provider"] == "NWACHUKWU, SAMUEL MD"
    assert md["accession"] == "PRL-2610-40117"
    assert "Potassium: 6.8 mmol/L   (ref 3.5-5.1)   HH" in item.body
    msh, msa = segments(ack)["MSH"], segments(ack)["MSA"]
    assert msa[:3] == ["MSA", "AA", "PRL000417"]
    assert msh[8] == "ACK^R01^ACK" and msh[4:6] == ["LIS", "PIEDMONT REF LAB"]  # addressed back to the sender
    assert msh[6] == "20261005153000+0000"
    assert "TIDWELL" not in repr(process_message(fixture("oru_potassium_hh.hl7"), now=NOW))  # no PHI in reprs


def test_an_oru_without_flags_or_offset_uses_the_configured_zone_and_lf_separators() -> None:
    [item], ack = handle_message(fixture("oru_no_flag_lf.hl7"), config=CLINIC, now=NOW)
    assert "abnormal_flag" not in item.metadata
    assert item.metadata["value"] == "5.4" and item.metadata["test"] == "Hemoglobin A1c"
    assert item.received_at.isoformat() == "2026-10-06T08:30:00-04:00"  # EDT from the zone, not UTC
    assert item.patient.phone == "(478)555-0150" and item.patient.mrn == "H00593812"
    assert "Fasting & non-fasting reference" in item.body  # \T\ unescaped
    utc_item = handle_message(fixture("oru_no_flag_lf.hl7"), now=NOW)[0][0]
    assert utc_item.received_at.isoformat() == "2026-10-06T08:30:00+00:00"
    assert segments(ack)["MSA"][1] == "AA"


def test_a_batch_gives_one_ack_per_message_and_a_bad_message_does_not_sink_the_others() -> None:
    raw = fixture("batch_three.hl7")
    assert len(split_batch(raw)) == 3
    results = handle_batch(raw, config=CLINIC, now=NOW)
    codes = [segments(ack)["MSA"][1] for _, ack in results]
    assert codes == ["AA", "AE", "AA"]
    assert [len(items) for items, _ in results] == [1, 0, 0]  # the ADT is acknowledged, not an item
    assert results[0][0][0].metadata["abnormal_flag"] == "LL"
    err = segments(results[1][1])["ERR"]
    assert err[2] == "PID^1^7" and err[3].startswith("102^")


def test_a_malformed_field_gets_ae_naming_it_without_its_value() -> None:
    items, ack = handle_message(fixture("oru_bad_dob.hl7"), now=NOW)
    assert items == []
    msa = segments(ack)["MSA"]
    assert msa[1:3] == ["AE", "PRL000999"] and msa[3].startswith("PID-7")
    assert "1949X630" not in ack and "TIDWELL" not in ack


def test_adt_is_acknowledged_politely_without_an_item() -> None:
    items, ack = handle_message(fixture("adt_a01.hl7"), now=NOW)
    assert items == []
    msa = segments(ack)["MSA"]
    assert msa[1] == "AA" and "registration" in msa[3]
    assert "ERR" not in segments(ack)


def test_a_ref_i12_referral() -> None:
    [item], ack = handle_message(fixture("ref_i12.hl7"), now=NOW)
    assert (item.channel, item.external_id) == ("ehr", "OVMC CARE TRANS:OVMCREF0042")
    assert "Acute on chronic diastolic heart failure" in item.body
    assert "Transitional care visit within 7 days" in item.body
    assert item.metadata["referred_to"] == "TOBIAS OSTENDORF"
    assert item.patient.phone == "478-555-0188"
    assert segments(ack)["MSA"][1] == "AA"


def test_an_orm_o01_referral_order() -> None:
    raw = "\r".join(
        [
            "MSH|^~\\&|EHR|ROSEWOOD SPINE|CAREROUTE|SWEETGUM FM|20261007091500-0400||ORM^O01|RS-5521|P|2.3",
            "PID|1||FM223344^^^SFM^MR||ZIEGLER^OTTO||19580412|M",
            "ORC|NW|RS-5521||||||||||2222^RAMIREZ^ELENA^^^^MD",
            "OBR|1|RS-5521||PT^Physical therapy evaluation^L|||||||||||||||||||||||||||M54.5^Low back pain^I10",
            "NTE|1||Please schedule PT 2x/week for 6 weeks.",
        ]
    )
    [item], ack = handle_message(raw, now=NOW)
    assert item.subject == "Referral: Physical therapy evaluation"
    assert "Low back pain" in item.body and "2x/week" in item.body
    assert item.metadata["referring_provider"] == "RAMIREZ, ELENA MD"
    assert segments(ack)["MSA"][1] == "AA"


@pytest.mark.parametrize(
    ("raw", "code", "text"),
    [
        ("this is not hl7 at all", "AR", "MSH"),
        ("", "AR", "MSH"),
        ("MSH|^~\\&|A|B|C|D|20261005||SIU^S12|C1|P|2.5", "AR", "MSH-9"),
        ("MSH|^~\\&|A|B|C|D|20261005||ORU^R01||P|2.5\rPID|1", "AE", "MSH-10"),
        ("MSH|^~\\&|A|B|C|D|2026-10-05||ORU^R01|C2|P|2.5\rPID|1", "AE", "MSH-7"),
        ("MSH|^~\\&|A|B|C|D|20261005||ORU^R01|C3|P|2.5\rPID|1||X^^^^MR", "AE", "OBX"),
        ("MSH|^~\\&|A|B|C|D|20261005||ORU^R01|C4|P|2.5\rOBX|1|NM|K||5", "AE", "PID"),
        ("MSH|^~\\&|A|B|C|D|20261005||ORU^R01|C5|P|2.5\rMSH|^~\\&|A|B|C|D|20261005||ORU^R01|C6|P|2.5", "AR", "MSH"),
    ],
)
def test_unusable_messages_get_ar_or_ae_with_a_reason(raw: str, code: str, text: str) -> None:
    result = process_message(raw, now=NOW)
    assert result.items == [] and result.code == code
    msa = segments(result.ack)["MSA"]
    assert msa[1] == code and msa[3].startswith(text)


def test_a_test_message_is_marked_and_a_second_patient_gets_its_own_item() -> None:
    raw = "\r".join(
        [
            "MSH|^~\\&|LIS|LAB|CR|SFM|20261005101010+0000||ORU^R01|T-1|T|2.5.1",
            "PID|1||A1^^^^MR||ONE^PAT||20000101",
            "OBX|1|SN|GLU^Glucose||>^400|mg/dL||HH",
            "PID|2||B2^^^^MR||TWO^PAT||20000202",
            "OBX|1|CWE|CX^Blood culture||POS^Gram positive cocci in clusters||||||F",
        ]
    )
    first, second = handle_message(raw, now=NOW)[0]
    assert (first.external_id, second.external_id) == ("LAB:T-1", "LAB:T-1/2")
    assert first.metadata["value"] == ">400" and first.metadata["hl7_processing_id"] == "T"
    assert second.metadata["value"] == "Gram positive cocci in clusters"
    assert second.patient.mrn == "B2"


def test_timestamps_of_every_precision() -> None:
    utc = Hl7Config().default_tz
    assert parse_ts("2026", utc, "X").isoformat() == "2026-01-01T00:00:00+00:00"
    assert parse_ts("202610051130-0500", utc, "X").isoformat() == "2026-10-05T11:30:00-05:00"
    assert parse_ts("20261005113012.25+0100", utc, "X").microsecond == 250000


def test_ack_for_escapes_the_reason_and_survives_garbage() -> None:
    ack = ack_for("garbage", "AE", "a|b^c", now=NOW)
    assert segments(ack)["MSA"] == ["MSA", "AE", "", "a\\F\\b\\S\\c"]
