"""FHIR R4 resources, bundles and event envelopes → InboundItems.

Accepted shapes (JSON, already decoded or raw bytes/str):

- a single `Communication`, `Task`, `ServiceRequest`, `DiagnosticReport` or `ClaimResponse`;
- a `Bundle` (collection, transaction, batch, searchset, message, history) holding them, with
  their `Patient`, `Observation`, `Organization`, `Claim` ... resources alongside;
- an R4 Backport IG (or R4B) topic-based Subscription notification: a `history` bundle whose
  first entry is a `Parameters` / `SubscriptionStatus`. Heartbeats and handshakes give no
  items; event notifications give one item per focus resource, which must be included
  (full-resource payload): an id-only notification is refused, because careroute would have
  to call back into the EHR to learn anything and an item without content is useless;
- a generic EHR event envelope `{"event_type": "patient_message.received", "resource": {...}}`
  (optionally `event_id`, `occurred_at`); `event_type` and `event_id` go into metadata.

Channel mapping (what the practice sees, not the FHIR resource name):
`Communication` → portal (a patient portal message), `DiagnosticReport` and an `Observation`
that no report in the payload references → lab, `ClaimResponse` (prior authorisation) → ehr,
`ServiceRequest` (an inbound referral) → ehr, `Task` → ehr. A `Task` whose `focus` is another
actionable resource in the same payload is not an item of its own: its focus is.

external_id is `ResourceType/id`, plus `/_history/<versionId>` when `meta.versionId` is set
(the FHIR version-specific reference). A sender's retry of the same version is then one item,
while a real update (a prior authorisation going from pended to approved, with a new version)
is a new item that dedup links to the earlier one. A resource without an id uses its bundle
entry's `fullUrl` (e.g. `urn:uuid:...` in transaction bundles); with neither it is refused,
since a retry could not be recognised.

received_at is the resource's own time (Communication.sent/received, DiagnosticReport.issued,
ClaimResponse.created, Task.lastModified/authoredOn, ServiceRequest.authoredOn, then
meta.lastUpdated) when it carries a UTC offset, else the caller's `received_at` (the time the
request arrived).

Everything is validated with `fhir.resources.R4B` first (R4B is R4 plus a few additions; the
package has no plain R4 and its default R5 rejects R4 `Communication.payload.contentString`).
Errors name the FHIR path (`Communication.payload[0].contentFoo`) and the kind of problem,
never the values: they are PHI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from careroute.intake.contract import in_range, storable
from careroute.model import InboundItem, Patient

JSON = dict[str, Any]

ITEM_TYPES = ("Communication", "Task", "ServiceRequest", "DiagnosticReport", "ClaimResponse")
CHANNEL_BY_TYPE = {
    "Communication": "portal",
    "Task": "ehr",
    "ServiceRequest": "ehr",
    "DiagnosticReport": "lab",
    "Observation": "lab",
    "ClaimResponse": "ehr",
}
NOTIFICATION_STATUS_TYPES = ("Parameters", "SubscriptionStatus")

#: How alarming an interpretation code is; the most alarming result of a report fills metadata.
FLAG_SEVERITY = {"HH": 4, "LL": 4, "AA": 4, "HU": 3, "LU": 3, "H": 2, "L": 2, "A": 2, "N": 0}

#: Da Vinci PAS reviewAction codes (X12 306 / HCR01) → careroute's prior-auth status.
REVIEW_ACTION_STATUS = {
    "A1": "approved",  # certified in total
    "A2": "approved",  # certified, partial
    "A6": "approved",  # modified
    "NA": "approved",  # no action required
    "A3": "denied",  # not certified
    "A4": "pended",
    "CT": "more_info_requested",  # contact payer
    "C": "cancelled",
}

_VALIDATION_WORDS = {
    "missing": "required",
    "extra_forbidden": "not allowed here",
    "value_error": "invalid value",
    "literal_error": "not an allowed code",
    "enum": "not an allowed code",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "string_type": "must be a string",
}


class FhirError(ValueError):
    """A payload careroute cannot take; `path` names where, never what the value was."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _name(key: Any) -> str:
    """A path segment that is safe to echo: a plausible element name, else "?" (keys are payload too)."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", text) else "?"


def _fhir_path(resource_type: str, loc: Iterable[int | str]) -> str:
    out = resource_type
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{_name(part)}"
    return out


def _known_type(resource_type: Any) -> bool:
    if not isinstance(resource_type, str) or not re.fullmatch(r"[A-Z][A-Za-z]{0,63}", resource_type):
        return False
    try:
        get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return True


def _check_resource_types(node: Any, path: str) -> None:
    """Every nested resource (bundle entries, contained, Parameters) names a real type.

    fhir.resources crashes (KeyError/TypeError) on an unknown nested resourceType instead of
    reporting it, so this walk finds it first and names its path.
    """
    if isinstance(node, dict):
        if "resourceType" in node and not _known_type(node["resourceType"]):
            raise FhirError(f"{path}.resourceType", "not a FHIR resource type")
        for key, value in node.items():
            if isinstance(value, dict | list):
                _check_resource_types(value, f"{path}.{_name(key)}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_resource_types(value, f"{path}[{index}]")


def validate_resource(resource: Mapping[str, Any], path: str | None = None) -> None:
    """Validate one resource (a Bundle validates its entries too) against FHIR R4B; raise FhirError."""
    resource_type = resource.get("resourceType")
    root = path or "(root)"
    if not isinstance(resource_type, str) or not resource_type:
        raise FhirError(root, "resourceType is required")
    if not re.fullmatch(r"[A-Z][A-Za-z]{0,63}", resource_type):
        # Only a plausible type name may be echoed back in an error.
        raise FhirError(f"{root}.resourceType", "not a FHIR resource type")
    if not _known_type(resource_type):
        raise FhirError(path or resource_type, "unknown resourceType")
    _check_resource_types(dict(resource), path or resource_type)
    model = get_fhir_model_class(resource_type)
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _fhir_path(path or resource_type, first["loc"])
        # Pydantic messages may quote the input; only the error kind is safe to repeat.
        raise FhirError(where, _VALIDATION_WORDS.get(first["type"], first["type"].replace("_", " "))) from None
    except (KeyError, TypeError, ValueError, AttributeError):
        # fhir.resources has crashed on odd shapes the walk above did not foresee; still a 4xx, not a 500.
        raise FhirError(path or resource_type, "not a valid FHIR resource") from None


# ---------------------------------------------------------------------------------------- lookups


@dataclass
class _Context:
    """What a payload includes, for resolving references: bundle entries by fullUrl and Type/id."""

    by_ref: dict[str, JSON] = field(default_factory=dict)
    full_url: dict[int, str] = field(default_factory=dict)  # id(resource) -> its entry's fullUrl

    def add(self, resource: JSON, full_url: str | None) -> None:
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(rtype, str) and isinstance(rid, str):
            self.by_ref[f"{rtype}/{rid}"] = resource
        if full_url:
            self.by_ref[full_url] = resource
            self.full_url[id(resource)] = full_url

    def resolve(self, reference: Any, container: JSON | None = None) -> JSON | None:
        ref = reference.get("reference") if isinstance(reference, Mapping) else None
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#"):
            for contained in (container or {}).get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    return contained
            return None
        if ref in self.by_ref:
            return self.by_ref[ref]
        # An absolute or versioned reference still names Type/id in its last two path parts.
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        return self.by_ref.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def _text(concept: Any) -> str | None:
    """A CodeableConcept's human text: text, else the first coding display, else its code."""
    if not isinstance(concept, Mapping):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("display"):
            return str(coding["display"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("code"):
            return str(coding["code"])
    return None


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, Mapping):
        return []
    return [str(c["code"]) for c in concept.get("coding") or [] if isinstance(c, Mapping) and c.get("code")]


def _display(reference: Any, ctx: _Context, container: JSON) -> str | None:
    """A reference's display, or the name of the resource it points to."""
    if not isinstance(reference, Mapping):
        return None
    if reference.get("display"):
        return str(reference["display"])
    target = ctx.resolve(reference, container)
    if target is None:
        return None
    name = target.get("name")
    if isinstance(name, str):
        return name
    if isinstance(name, list) and name:
        return _human_name(name)
    return None


def _human_name(names: list[Any]) -> str | None:
    chosen = next((n for n in names if isinstance(n, Mapping) and n.get("use") == "official"), None)
    chosen = chosen or next((n for n in names if isinstance(n, Mapping)), None)
    if chosen is None:
        return None
    if chosen.get("text"):
        return str(chosen["text"])
    parts = [*(str(g) for g in chosen.get("given") or []), str(chosen.get("family") or "")]
    return " ".join(p for p in parts if p) or None


def _is_mrn(identifier: Mapping[str, Any]) -> bool:
    if "MR" in _codes(identifier.get("type")):
        return True
    return "mrn" in str(identifier.get("system") or "").lower()


def _patient_from(reference: Any, ctx: _Context, container: JSON) -> Patient:
    target = ctx.resolve(reference, container)
    if target is not None and target.get("resourceType") == "Patient":
        mrn = next(
            (
                str(i["value"])
                for i in target.get("identifier") or []
                if isinstance(i, Mapping) and i.get("value") and _is_mrn(i)
            ),
            None,
        )
        phones = [t for t in target.get("telecom") or [] if isinstance(t, Mapping) and t.get("system") == "phone"]
        phone = next((t for t in phones if t.get("use") == "mobile"), phones[0] if phones else None)
        return Patient(
            mrn=mrn,
            name=_human_name(target.get("name") or []),
            # A partial birthDate (1949, 1949-06) is not a dob the matcher can use.
            dob=str(target["birthDate"]) if len(str(target.get("birthDate") or "")) == 10 else None,
            phone=str(phone["value"]) if phone and phone.get("value") else None,
        )
    if isinstance(reference, Mapping):
        # A logical reference (identifier only) or a display still says who it is.
        ident = reference.get("identifier")
        mrn = str(ident["value"]) if isinstance(ident, Mapping) and ident.get("value") and _is_mrn(ident) else None
        name = str(reference["display"]) if reference.get("display") else None
        return Patient(mrn=mrn, name=name)
    return Patient()


def _aware(value: Any) -> datetime | None:
    """A FHIR dateTime/instant with a time and an offset; dates and naive times are not enough."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None and in_range(parsed) else None


def _first_time(resource: JSON, *fields: str) -> datetime | None:
    for name in fields:
        found = _aware(resource.get(name))
        if found is not None:
            return found
    meta = resource.get("meta")
    return _aware(meta.get("lastUpdated")) if isinstance(meta, Mapping) else None


def _external_id(resource: JSON, ctx: _Context, path: str) -> str:
    rtype = str(resource["resourceType"])
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        out = f"{rtype}/{rid}"
        meta = resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, Mapping) else None
        return f"{out}/_history/{version}" if version else out
    full_url = ctx.full_url.get(id(resource))
    if full_url:
        return full_url
    raise FhirError(f"{path}.id", "required (no id and no fullUrl: a retry could not be recognised)")


def _notes(resource: JSON) -> list[str]:
    return [str(n["text"]) for n in resource.get("note") or [] if isinstance(n, Mapping) and n.get("text")]


def _put(metadata: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", [], {}):
        metadata[key] = value


# -------------------------------------------------------------------------------- per resource type


@dataclass(frozen=True, slots=True)
class _Built:
    subject: str | None
    body: str
    patient_ref: Any
    metadata: dict[str, Any]
    time_fields: tuple[str, ...]


def _communication(res: JSON, ctx: _Context) -> _Built:
    texts: list[str] = []
    attachments: list[str] = []
    for part in res.get("payload") or []:
        if not isinstance(part, Mapping):
            continue
        if part.get("contentString"):
            texts.append(str(part["contentString"]))
        attachment = part.get("contentAttachment")
        if isinstance(attachment, Mapping):
            attachments.append(str(attachment.get("title") or attachment.get("url") or "attachment"))
    md: dict[str, Any] = {}
    _put(md, "attachments", attachments)
    _put(md, "category", [t for c in res.get("category") or [] if (t := _text(c))])
    _put(md, "sender", _display(res.get("sender"), ctx, res))
    _put(md, "priority", res.get("priority"))
    _put(md, "in_response_to", [r["reference"] for r in res.get("inResponseTo") or [] if r.get("reference")])
    return _Built(_text(res.get("topic")), "\n\n".join(texts), res.get("subject"), md, ("sent", "received"))


def _task(res: JSON, ctx: _Context) -> _Built:
    lines = [str(res["description"])] if res.get("description") else []
    lines += _notes(res)
    md: dict[str, Any] = {}
    _put(md, "status", res.get("status"))
    _put(md, "business_status", _text(res.get("businessStatus")))
    _put(md, "priority", res.get("priority"))
    _put(md, "requester", _display(res.get("requester"), ctx, res))
    focus = res.get("focus")
    _put(md, "focus", focus.get("reference") if isinstance(focus, Mapping) else None)
    return _Built(_text(res.get("code")), "\n".join(lines), res.get("for"), md, ("lastModified", "authoredOn"))


def _service_request(res: JSON, ctx: _Context) -> _Built:
    what = _text(res.get("code"))
    reasons = [t for r in res.get("reasonCode") or [] if (t := _text(r))]
    lines = [f"Referral: {what}" if what else "Referral"]
    if reasons:
        lines.append("Reason: " + "; ".join(reasons))
    if res.get("patientInstruction"):
        lines.append(str(res["patientInstruction"]))
    lines += _notes(res)
    md: dict[str, Any] = {}
    _put(md, "referral_to", [d for p in res.get("performer") or [] if (d := _display(p, ctx, res))])
    _put(md, "requester", _display(res.get("requester"), ctx, res))
    _put(md, "priority", res.get("priority"))
    _put(md, "status", res.get("status"))
    _put(md, "category", [t for c in res.get("category") or [] if (t := _text(c))])
    return _Built(
        f"Referral: {what}" if what else "Referral", "\n".join(lines), res.get("subject"), md, ("authoredOn",)
    )


def _quantity(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, Mapping) or value.get("value") is None:
        return None, None
    number = value["value"]
    # Keep the sender's digits: 6.80 and 6.8 can mean different precision to a clinician.
    text = json.dumps(number) if isinstance(number, float | int) else str(number)
    return (str(value.get("comparator") or "") + text), (value.get("unit") or value.get("code"))


def _range(ranges: Any) -> str | None:
    for rr in ranges or []:
        if not isinstance(rr, Mapping):
            continue
        if rr.get("text"):
            return str(rr["text"])
        low, _ = _quantity(rr.get("low"))
        high, _ = _quantity(rr.get("high"))
        if low and high:
            return f"{low}-{high}"
        if low:
            return f">={low}"
        if high:
            return f"<={high}"
    return None


def observation_result(obs: Mapping[str, Any]) -> dict[str, Any]:
    """One Observation as a result row: test, value, units, reference_range, abnormal_flag."""
    value, units = _quantity(obs.get("valueQuantity"))
    if value is None:
        for key in ("valueString", "valueInteger", "valueBoolean", "valueDateTime"):
            if obs.get(key) is not None:
                value = str(obs[key])
                break
        else:
            value = _text(obs.get("valueCodeableConcept"))
    flags = [code for concept in obs.get("interpretation") or [] for code in _codes(concept)]
    flag = max(flags, key=lambda c: FLAG_SEVERITY.get(c, 1)) if flags else None
    row: dict[str, Any] = {"test": _text(obs.get("code")) or "result"}
    for key, val in (
        ("value", value),
        ("units", units),
        ("reference_range", _range(obs.get("referenceRange"))),
        ("abnormal_flag", flag),
        ("status", obs.get("status")),
    ):
        if val is not None:
            row[key] = val
    return row


def _result_line(row: Mapping[str, Any]) -> str:
    line = f"{row['test']}: {row.get('value', '(no value)')}"
    if row.get("units"):
        line += f" {row['units']}"
    if row.get("reference_range"):
        line += f"   (ref {row['reference_range']})"
    if row.get("abnormal_flag"):
        line += f"   {row['abnormal_flag']}"
    return line


def _lab_metadata(rows: list[dict[str, Any]]) -> dict[str, Any]:
    md: dict[str, Any] = {}
    if rows:
        # Ties keep report order, so the first of two critical values leads.
        worst = max(
            rows, key=lambda r: FLAG_SEVERITY.get(str(r.get("abnormal_flag")), 1 if "abnormal_flag" in r else -1)
        )
        for key in ("test", "value", "units", "reference_range", "abnormal_flag"):
            if key in worst:
                md[key] = worst[key]
        if len(rows) > 1:
            md["results"] = rows
    return md


def _diagnostic_report(res: JSON, ctx: _Context) -> _Built:
    rows = []
    for ref in res.get("result") or []:
        obs = ctx.resolve(ref, res)
        if obs is not None and obs.get("resourceType") == "Observation":
            rows.append(observation_result(obs))
    name = _text(res.get("code"))
    lines = [f"{name} - {res.get('status', '')}".strip(" -")] if name else []
    lines += [_result_line(r) for r in rows]
    if res.get("conclusion"):
        lines.append(str(res["conclusion"]))
    md = _lab_metadata(rows)
    _put(md, "report", name)
    _put(md, "status", res.get("status"))
    _put(md, "performing_lab", next((d for p in res.get("performer") or [] if (d := _display(p, ctx, res))), None))
    _put(md, "accession", next((str(i["value"]) for i in res.get("identifier") or [] if i.get("value")), None))
    _put(md, "collected_at", res.get("effectiveDateTime"))
    if "test" not in md and name:
        md["test"] = name
    return _Built(name, "\n".join(lines), res.get("subject"), md, ("issued",))


def _observation(res: JSON, ctx: _Context) -> _Built:
    row = observation_result(res)
    md = _lab_metadata([row])
    _put(md, "status", res.get("status"))
    _put(md, "collected_at", res.get("effectiveDateTime"))
    _put(md, "performing_lab", next((d for p in res.get("performer") or [] if (d := _display(p, ctx, res))), None))
    return _Built(row["test"], _result_line(row), res.get("subject"), md, ("issued",))


def _review_actions(node: Any) -> list[str]:
    """Every PAS reviewAction code anywhere under `node` (its place moved between PAS versions)."""
    found: list[str] = []
    if isinstance(node, Mapping):
        url = str(node.get("url") or "")
        if url.endswith("reviewAction") or url.endswith("reviewActionCode"):
            found += _codes(node.get("valueCodeableConcept"))
        for value in node.values():
            found += _review_actions(value)
    elif isinstance(node, list):
        for value in node:
            found += _review_actions(value)
    return found


def prior_auth_status(claim_response: Mapping[str, Any]) -> str:
    """approved / denied / pended / more_info_requested / cancelled / partially_approved / error."""
    actions = _review_actions(claim_response)
    statuses = [REVIEW_ACTION_STATUS[a] for a in actions if a in REVIEW_ACTION_STATUS]
    # A denial anywhere outranks approvals elsewhere: staff must act on it.
    for status in ("denied", "more_info_requested", "pended", "cancelled"):
        if status in statuses:
            return status
    if statuses:
        return "approved"
    outcome = claim_response.get("outcome")
    disposition = str(claim_response.get("disposition") or "").lower()
    if outcome == "error":
        return "error"
    if outcome == "queued":
        return "pended"
    if "denied" in disposition or "not certified" in disposition or "not approved" in disposition:
        return "denied"
    if "information" in disposition or "documentation" in disposition:
        return "more_info_requested"
    if "pend" in disposition:
        return "pended"
    if outcome == "partial":
        return "partially_approved"
    return "approved"


def _claim_response(res: JSON, ctx: _Context) -> _Built:
    status = prior_auth_status(res)
    payer = _display(res.get("insurer"), ctx, res)
    claim = ctx.resolve(res.get("request"), res)
    item = None
    if claim is not None:
        item = next(
            (t for i in claim.get("item") or [] if (t := _text(i.get("productOrService")))),
            None,
        )
    md: dict[str, Any] = {"status": status}
    _put(md, "payer", payer)
    _put(md, "item", item)
    _put(md, "case_id", res.get("preAuthRef"))
    _put(md, "outcome", res.get("outcome"))
    _put(md, "review_action", sorted(set(_review_actions(res))))
    period = res.get("preAuthPeriod")
    if isinstance(period, Mapping):
        _put(md, "authorized_until", period.get("end"))
    words = status.replace("_", " ")
    lines = [f"Prior authorization {words}" + (f" ({payer})" if payer else "") + (f" for {item}" if item else ".")]
    if res.get("disposition"):
        lines.append(str(res["disposition"]))
    lines += [str(n["text"]) for n in res.get("processNote") or [] if isinstance(n, Mapping) and n.get("text")]
    if res.get("preAuthRef"):
        lines.append(f"Reference: {res['preAuthRef']}")
    return _Built("Prior authorization status update", "\n".join(lines), res.get("patient"), md, ("created",))


_BUILDERS: dict[str, Callable[[JSON, _Context], _Built]] = {
    "Communication": _communication,
    "Task": _task,
    "ServiceRequest": _service_request,
    "DiagnosticReport": _diagnostic_report,
    "Observation": _observation,
    "ClaimResponse": _claim_response,
}


def _item(res: JSON, ctx: _Context, path: str, received_at: datetime, extra: Mapping[str, Any]) -> InboundItem:
    rtype = str(res["resourceType"])
    built = _BUILDERS[rtype](res, ctx)
    metadata = {"fhir_resource": rtype, **built.metadata, **extra}
    return storable(
        InboundItem(
            channel=CHANNEL_BY_TYPE[rtype],
            external_id=_external_id(res, ctx, path),
            received_at=_first_time(res, *built.time_fields) or received_at,
            body=built.body,
            patient=_patient_from(built.patient_ref, ctx, res),
            subject=built.subject,
            metadata=metadata,
        )
    )


# ------------------------------------------------------------------------------------------ entry


def _decode(payload: Mapping[str, Any] | bytes | str) -> JSON:
    if isinstance(payload, bytes | str):
        try:
            decoded = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise FhirError("(body)", "not valid JSON") from None
        except RecursionError:  # arrays or objects nested thousands deep: no FHIR resource looks like that
            raise FhirError("(body)", "JSON nested too deeply") from None
    else:
        decoded = dict(payload)
    if not isinstance(decoded, dict):
        raise FhirError("(body)", "must be a JSON object")
    return decoded


def _notification_focus(status: JSON, path: str) -> list[str] | None:
    """Focus references of an event notification; None for heartbeat/handshake/query-status."""
    if status.get("resourceType") == "SubscriptionStatus":
        kind = status.get("type")
        events = status.get("notificationEvent") or []
        focus = [e.get("focus", {}).get("reference") for e in events if isinstance(e, Mapping)]
    else:
        params = status.get("parameter") or []
        kind = next((p.get("valueCode") for p in params if p.get("name") == "type"), None)
        focus = [
            part.get("valueReference", {}).get("reference")
            for p in params
            if p.get("name") == "notification-event"
            for part in p.get("part") or []
            if part.get("name") == "focus"
        ]
    if kind is None:
        raise FhirError(f"{path}.type", "required in a subscription notification")
    if kind != "event-notification":
        return None
    return [f for f in focus if isinstance(f, str)]


def _is_notification(bundle: JSON) -> bool:
    entries = bundle.get("entry") or []
    if not entries or bundle.get("type") not in ("history", "subscription-notification"):
        return False
    first = entries[0].get("resource") if isinstance(entries[0], Mapping) else None
    return isinstance(first, Mapping) and first.get("resourceType") in NOTIFICATION_STATUS_TYPES


def items_from_fhir(
    payload: Mapping[str, Any] | bytes | str,
    *,
    received_at: datetime,
) -> list[InboundItem]:
    """Every InboundItem in a FHIR resource, Bundle, Subscription notification or event envelope.

    `received_at` is when the request arrived: used when a resource has no time of its own.
    Raises FhirError (path and problem, no values) for anything invalid or unsupported.
    """
    data = _decode(payload)
    extra: dict[str, Any] = {}
    if "resourceType" not in data and "resource" in data:
        # A named-event envelope from an integration layer.
        if not isinstance(data.get("event_type"), str) or not data["event_type"]:
            raise FhirError("event_type", "required (a string)")
        if not isinstance(data.get("resource"), dict):
            raise FhirError("resource", "must be a FHIR resource object")
        extra["event_type"] = data["event_type"]
        _put(extra, "event_id", data.get("event_id") if isinstance(data.get("event_id"), str) else None)
        received_at = _aware(data.get("occurred_at")) or received_at
        data = data["resource"]

    validate_resource(data)
    rtype = data["resourceType"]
    ctx = _Context()

    if rtype != "Bundle":
        if rtype not in ITEM_TYPES and rtype != "Observation":
            raise FhirError(rtype, "not a resource careroute takes in (" + ", ".join(ITEM_TYPES) + ", Bundle)")
        return [_item(data, ctx, rtype, received_at, extra)]

    entries: list[tuple[str, JSON]] = []
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource")
        if isinstance(resource, dict):
            ctx.add(resource, entry.get("fullUrl"))
            entries.append((f"Bundle.entry[{index}].resource", resource))

    if _is_notification(data):
        status = entries[0][1]
        focus = _notification_focus(status, "Bundle.entry[0].resource")
        if focus is None:
            return []
        candidates: list[tuple[str, JSON]] = []
        for index, ref in enumerate(focus):
            target = ctx.resolve({"reference": ref})
            if target is None:
                raise FhirError(
                    f"Bundle.entry[0].resource.notification-event[{index}].focus",
                    "resource not included (id-only payload); configure the subscription for full-resource",
                )
            if all(r is not target for _, r in candidates):  # two events about one resource: one item
                candidates.append(next((p, r) for p, r in entries if r is target))
        extra = {**extra, "subscription_topic": _topic(status)} if _topic(status) else extra
    else:
        candidates = entries

    reported = {
        id(obs)
        for _, res in entries
        if res.get("resourceType") == "DiagnosticReport"
        for ref in res.get("result") or []
        if (obs := ctx.resolve(ref, res)) is not None
    }
    actionable = {
        id(res)
        for _, res in candidates
        if res.get("resourceType") in ITEM_TYPES
        or (res.get("resourceType") == "Observation" and id(res) not in reported)
    }
    items: list[InboundItem] = []
    for path, res in candidates:
        if id(res) not in actionable:
            continue
        if res.get("resourceType") == "Task":
            focus_target = ctx.resolve(res.get("focus"), res)
            if focus_target is not None and id(focus_target) in actionable:
                continue  # the Task only wraps an item that is already in this payload
        items.append(_item(res, ctx, path, received_at, extra))
    return items


def _topic(status: JSON) -> str | None:
    if status.get("resourceType") == "SubscriptionStatus":
        topic = status.get("topic")
        return str(topic) if topic else None
    for p in status.get("parameter") or []:
        if p.get("name") == "topic":
            value = p.get("valueCanonical") or p.get("valueUri")
            return str(value) if value else None
    return None


def deliver_fhir(
    payload: Mapping[str, Any] | bytes | str,
    deliver: Callable[[InboundItem], Any],
    *,
    received_at: datetime,
) -> list[InboundItem]:
    """Parse everything first, then hand each item to `deliver`: an invalid bundle delivers nothing."""
    items = items_from_fhir(payload, received_at=received_at)
    for item in items:
        deliver(item)
    return items
