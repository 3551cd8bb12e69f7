"""FHIR R4 payloads (tests/fixtures/intake/fhir) → InboundItems, validated, with FHIR paths in errors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from careroute.intake.contract import InboundItemIn
from careroute.intake.fhir import FhirError, deliver_fhir, items_from_fhir, prior_auth_status
from careroute.model import InboundItem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake" / "fhir"
ARRIVED = datetime(2026, 10, 5, 16, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def items(payload: Any) -> list[InboundItem]:
    found = items_from_fhir(payload, received_at=ARRIVED)
    for item in found:
        InboundItemIn.model_validate(item.to_dict())  # every item meets the shared contract
    return found


def test_a_portal_communication_with_a_contained_patient() -> None:
    [item] = items((FIXTURES / "communication.json").read_bytes())
    assert (item.channel, item.external_id, item.subject) == ("portal", "Communication/msg-20261005-0001", "buspirone")
    assert item.received_at.isoformat() == "2026-10-05T07:55:40-04:00"
    assert item.patient.mrn == "FM304127"  # the MR identifier, not the SSN
    assert (item.patient.name, item.patient.dob, item.patient.phone) == ("Tomasz Wojcik", "1961-03-14", "478-555-0134")
    assert item.body.startswith("Morning - I'm down to 3 tabs")
    assert item.metadata["attachments"] == ["pill_bottle.jpg"]


def test_a_diagnostic_report_bundle_puts_the_critical_result_first() -> None:
    [item] = items(load("diagnostic_report_bundle.json"))
    assert (item.channel, item.external_id) == ("lab", "DiagnosticReport/bmp-40117/_history/1")
    md = item.metadata
    assert {k: md[k] for k in ("abnormal_flag", "test", "value", "units", "reference_range")} == {
        "abnormal_flag": "HH",
        "test": "Potassium",
        "value": "6.8",
        "units": "mmol/L",
        "reference_range": "3.5-5.1",
    }
    assert [r["test"] for r in md["results"]] == ["Sodium", "Potassium", "Glucose"]
    assert md["results"][0]["reference_range"] == "136-145"  # built from low/high
    assert md["performing_lab"] == "Piedmont Reference Laboratory"
    assert md["accession"] == "PRL-2610-40117"
    assert item.patient.mrn == "FM155208"  # identifier system containing "mrn"
    assert "Potassium: 6.8 mmol/L" in item.body and "HH" in item.body


def test_a_report_with_contained_observations_and_a_low_critical_value() -> None:
    [item] = items(load("diagnostic_report_contained.json"))
    assert (item.metadata["abnormal_flag"], item.metadata["test"], item.metadata["value"]) == (
        "LL",
        "Hemoglobin",
        "6.1",
    )
    assert item.patient.name == "Yolanda Sweeney"
    assert item.received_at.isoformat() == "2026-10-06T09:12:00-04:00"


def test_a_denied_prior_authorisation_in_da_vinci_pas_style() -> None:
    [item] = items(load("claim_response_pas.json"))
    assert (item.channel, item.external_id) == ("ehr", "ClaimResponse/cr-5531870/_history/3")
    assert {k: item.metadata[k] for k in ("status", "payer", "item", "case_id")} == {
        "status": "denied",
        "payer": "Cigna",
        "item": "Wegovy 1.7 mg",
        "case_id": "CG-PA-5531870",
    }
    assert item.patient.mrn == "FM294455"
    assert "denied" in item.body.lower()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"outcome": "queued", "disposition": None, "item": None}, "pended"),
        ({"outcome": "complete", "disposition": "Certified in total", "item": None}, "approved"),
        (
            {"outcome": "complete", "disposition": "Additional clinical information required", "item": None},
            "more_info_requested",
        ),
        ({"outcome": "error", "disposition": None, "item": None}, "error"),
        ({"review": "A4"}, "pended"),
        ({"review": "A1"}, "approved"),
        ({"review": "CT"}, "more_info_requested"),
    ],
)
def test_prior_auth_status_from_review_action_outcome_and_disposition(change: dict[str, Any], expected: str) -> None:
    response = copy.deepcopy(load("claim_response_pas.json")["entry"][0]["resource"])
    if "review" in change:
        ext = response["item"][0]["extension"][0]["extension"][0]
        ext["valueCodeableConcept"]["coding"][0]["code"] = change["review"]
    else:
        for key, value in change.items():
            if value is None:
                response.pop(key, None)
            else:
                response[key] = value
    assert prior_auth_status(response) == expected


def test_a_task_wrapping_a_referral_is_one_item_keyed_by_full_url() -> None:
    [item] = items(load("referral_task_transaction.json"))
    assert item.channel == "ehr" and item.metadata["fhir_resource"] == "ServiceRequest"
    assert item.external_id == "urn:uuid:0d3c5d8e-1111-4a7b-8c9d-000000000002"
    assert item.patient.phone == "478-555-0178"  # mobile preferred
    assert "HFpEF" in item.body and item.subject == "Referral: Transitional care visit"


def test_a_lone_task_is_an_ehr_item() -> None:
    task = {
        "resourceType": "Task",
        "id": "t-9",
        "status": "requested",
        "intent": "order",
        "description": "Call patient about form",
        "for": {"display": "Ada Nilsen"},
    }
    [item] = items(task)
    assert (item.channel, item.external_id, item.body, item.patient.name) == (
        "ehr",
        "Task/t-9",
        "Call patient about form",
        "Ada Nilsen",
    )
    assert item.received_at == ARRIVED  # no time of its own: when it arrived


def test_a_backport_subscription_notification_gives_its_focus() -> None:
    [item] = items(load("subscription_notification_r4_backport.json"))
    assert (item.channel, item.external_id, item.patient.name) == ("portal", "Communication/msg-42", "Leonora Parrish")
    assert item.metadata["subscription_topic"].endswith("patient-message")


def test_heartbeats_give_nothing_and_id_only_notifications_are_refused() -> None:
    bundle = load("subscription_notification_r4_backport.json")
    heartbeat = copy.deepcopy(bundle)
    heartbeat["entry"] = heartbeat["entry"][:1]
    heartbeat["entry"][0]["resource"]["parameter"][3]["valueCode"] = "heartbeat"
    assert items(heartbeat) == []
    id_only = copy.deepcopy(bundle)
    id_only["entry"] = id_only["entry"][:1]
    with pytest.raises(FhirError, match="id-only"):
        items(id_only)


def test_an_r4b_subscription_status_notification() -> None:
    bundle = load("subscription_notification_r4_backport.json")
    bundle["entry"][0]["resource"] = {
        "resourceType": "SubscriptionStatus",
        "status": "active",
        "type": "event-notification",
        "subscription": {"reference": "Subscription/careroute"},
        "topic": "https://ehr.example.org/fhir/SubscriptionTopic/patient-message",
        "notificationEvent": [{"eventNumber": "42", "focus": {"reference": "Communication/msg-42"}}],
    }
    [item] = items(bundle)
    assert item.external_id == "Communication/msg-42"


def test_the_generic_event_envelope() -> None:
    [item] = items(load("event_envelope.json"))
    assert item.metadata["event_type"] == "patient_message.received"
    assert item.metadata["event_id"] == "evt-7d2a"
    assert item.received_at.isoformat() == "2026-10-05T20:10:26-04:00"  # occurred_at, the resource has no time
    assert (item.patient.mrn, item.patient.name) == ("FM411870", "Oksana Ptak")


def test_a_searchset_of_several_kinds_gives_one_item_each() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": load("communication.json")},
            {"resource": load("diagnostic_report_contained.json")},
            {"resource": {"resourceType": "Patient", "id": "lonely"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "bp",
                    "status": "final",
                    "code": {"text": "Systolic BP"},
                    "valueQuantity": {"value": 190, "unit": "mm[Hg]"},
                    "interpretation": [{"coding": [{"code": "H"}]}],
                }
            },
        ],
    }
    found = items(bundle)
    assert [i.channel for i in found] == ["portal", "lab", "lab"]
    assert found[2].external_id == "Observation/bp" and found[2].metadata["abnormal_flag"] == "H"


def test_errors_name_the_fhir_path_and_never_the_value() -> None:
    bad = load("communication.json")
    bad["payload"][0] = {"contentFoo": "SECRET chest pain"}
    with pytest.raises(FhirError) as exc:
        items(bad)
    assert exc.value.path == "Communication.payload[0].contentFoo"
    assert "SECRET" not in str(exc.value)

    bad_date = load("communication.json")
    bad_date["sent"] = "2026-13-45T10:00:00-04:00"
    with pytest.raises(FhirError) as exc:
        items(bad_date)
    assert exc.value.path == "Communication.sent" and "2026-13" not in str(exc.value)

    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bad}]}
    with pytest.raises(FhirError) as exc:
        items(bundle)
    assert exc.value.path.startswith("Bundle.entry[0].resource.payload[0]")


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b"{not json", "(body)"),
        (b"[1, 2]", "(body)"),
        ({"id": "x"}, "(root)"),
        ({"resourceType": "Nonsense"}, "Nonsense"),
        ({"resourceType": "Patient", "id": "p"}, "Patient"),
        ({"event_type": "x", "resource": "nope"}, "resource"),
        ({"resource": {"resourceType": "Task"}}, "event_type"),
    ],
)
def test_unusable_payloads_are_refused_with_a_path(payload: Any, path: str) -> None:
    with pytest.raises(FhirError) as exc:
        items(payload)
    assert exc.value.path == path


def test_a_resource_without_id_or_full_url_is_refused() -> None:
    task = {"resourceType": "Task", "status": "requested", "intent": "order"}
    with pytest.raises(FhirError, match=r"Task\.id"):
        items(task)


def test_deliver_fhir_delivers_nothing_when_any_entry_is_invalid() -> None:
    delivered: list[InboundItem] = []
    good = load("communication.json")
    bad = load("diagnostic_report_contained.json")
    bad["status"] = 42
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": good}, {"resource": bad}]}
    with pytest.raises(FhirError):
        deliver_fhir(bundle, delivered.append, received_at=ARRIVED)
    assert delivered == []
    assert len(deliver_fhir(good, delivered.append, received_at=ARRIVED)) == 1 == len(delivered)
