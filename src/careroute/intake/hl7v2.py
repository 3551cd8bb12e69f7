"""HL7 v2 messages → InboundItems and the ACK each message is owed.

What is taken in:

- `ORU^R01` lab results → one `lab` item per patient in the message (almost always one).
  PID-3 (the `MR` repetition, else the first) → mrn, PID-5 → name, PID-7 → dob, PID-13 →
  phone; OBR-4 names the panel; every OBX becomes a result row (OBX-3 test, OBX-5 value,
  OBX-6 units, OBX-7 reference range, OBX-8 abnormal flag). metadata carries the most
  abnormal row's test/value/units/reference_range/abnormal_flag (HH/LL/AA before H/L/A
  before N) plus `results`, every row; the body is a readable report.
- `ORM^O01` and `REF^I12` referrals → one `ehr` item; the body from RF1-10 / DG1 / OBR-4 /
  OBR-31 reasons and NTE notes.
- `ADT^*` → no item, ACK `AA` with a note saying careroute does not keep registration data.
- anything else → ACK `AR` (unsupported message type).

ACK codes: `AR` when the message cannot be taken at all (no MSH, unsupported type, more
than one message outside a batch), `AE` when a supported message has a bad segment or field
(the ERR segment and MSA-3 name it, e.g. `PID-7`, never its value), `AA` otherwise. The
caller must only send an `AA` after the items are durable; `ack_for` builds the `AE` to send
when delivery fails.

external_id is `<MSH-4 sending facility>:<MSH-10 control id>` (facility, else MSH-3 app),
because control ids are only unique per sender. A second patient in one ORU gets `/2`, ...

received_at is MSH-7. Its offset is used when present; without one the time is read in
`Hl7Config.default_tz`. The module default is UTC so the function is total, but labs
usually send local time without an offset: the application must pass the clinic's zone
(the rule pack's calendar zone) or every such result is shifted by the UTC offset.

Batches (`FHS`/`BHS` ... `BTS`/`FTS`): each message is handled on its own (one bad message does
not reject its neighbours) and the reply is a batch of ACKs, one per message.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

import hl7  # type: ignore[import-untyped]

from careroute.intake.contract import in_range, storable
from careroute.model import InboundItem, Patient

AckCode = Literal["AA", "AE", "AR"]
log = logging.getLogger(__name__)

#: How alarming an OBX-8 flag is (HL7 table 0078); the most alarming row fills metadata.
FLAG_SEVERITY = {"HH": 4, "LL": 4, "AA": 4, "HU": 3, "LU": 3, "H": 2, "L": 2, "A": 2, ">": 2, "<": 2, "N": 0}

REFERRAL_TYPES = {("ORM", "O01"), ("REF", "I12")}
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")
_BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")


@dataclass(frozen=True, slots=True)
class Hl7Config:
    """Who careroute is in ACKs, and how to read timestamps that carry no offset."""

    default_tz: tzinfo = UTC
    application: str = "CAREROUTE"
    facility: str = ""


class Hl7Error(ValueError):
    """A message careroute cannot take; `location` is like `PID-7`, never a value."""

    def __init__(self, code: AckCode, location: str, problem: str, hl7_error: int = 102) -> None:
        super().__init__(f"{location}: {problem}")
        self.code: AckCode = code
        self.location = location
        self.problem = problem
        self.hl7_error = hl7_error


@dataclass(frozen=True, slots=True)
class Hl7Result:
    """One message's outcome: the items to deliver and the ACK to send once they are durable."""

    items: list[InboundItem] = field(repr=False)  # PHI
    ack: str
    code: AckCode
    control_id: str | None
    raw: str = field(repr=False)


# ------------------------------------------------------------------------------------ splitting


def normalise(raw: str) -> str:
    """Segments separated by CR only, no blank segments (files and HTTP bodies often use LF)."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(seg for seg in text.split("\r") if seg.strip())


def is_batch(raw: str) -> bool:
    return normalise(raw)[:3] in ("FHS", "BHS")


def split_batch(raw: str) -> list[str]:
    """The messages of a batch (or the one message), each starting at its MSH."""
    messages: list[list[str]] = []
    for segment in normalise(raw).split("\r"):
        tag = segment[:3]
        if tag in _BATCH_SEGMENTS:
            continue
        if tag == "MSH" or not messages:
            messages.append([])
        messages[-1].append(segment)
    return ["\r".join(m) for m in messages]


# ------------------------------------------------------------------------------------------ MSH


@dataclass(frozen=True, slots=True)
class _Header:
    field_sep: str
    encoding: str
    fields: list[str]  # fields[n] is MSH-n (MSH-1 is the field separator itself)

    def get(self, n: int, component: int = 1) -> str:
        value = self.fields[n] if n < len(self.fields) else ""
        if n <= 2:
            return value
        parts = value.split(self.encoding[0]) if self.encoding else [value]
        return parts[component - 1] if component <= len(parts) else ""


def _header(message: str) -> _Header:
    if not message.startswith("MSH") or len(message) < 8:
        raise Hl7Error("AR", "MSH", "segment missing: not an HL7 v2 message", 100)
    sep = message[3]
    first = message.split("\r", 1)[0]
    parts = first.split(sep)
    encoding = parts[1] if len(parts) > 1 else ""
    if (
        sep.isalnum()
        or sep.isspace()
        or not 3 <= len(encoding) <= 5
        or sep in encoding
        or len(set(encoding)) != len(encoding)
        or any(c.isalnum() or c.isspace() for c in encoding)
    ):
        raise Hl7Error("AR", "MSH-2", "invalid separators", 102)
    return _Header(sep, encoding, ["MSH", sep, *parts[1:]])


def _escape(text: str, header: _Header | None) -> str:
    sep, enc = (header.field_sep, header.encoding) if header else ("|", "^~\\&")
    esc = enc[2] if len(enc) > 2 else "\\"
    out = text.replace(esc, f"{esc}E{esc}")
    for char, code in ((sep, "F"), (enc[0], "S"), (enc[1], "R"), (enc[3] if len(enc) > 3 else "&", "T")):
        out = out.replace(char, f"{esc}{code}{esc}")
    return out.replace("\r", " ").replace("\n", " ")


def ack_for(
    raw: str,
    code: AckCode,
    text: str = "",
    *,
    error_location: str | None = None,
    hl7_error: int | None = None,
    config: Hl7Config | None = None,
    now: datetime | None = None,
) -> str:
    """The ACK message for `raw` (which may be unparsable), with MSA-3 `text` and an ERR segment."""
    config = config or Hl7Config()
    moment = now or datetime.now(UTC)
    try:
        header: _Header | None = _header(normalise(raw))
    except Hl7Error:
        header = None
    sep, enc = (header.field_sep, header.encoding) if header else ("|", "^~\\&")
    trigger = header.get(9, 2) if header else ""
    control = uuid.uuid4().hex[:20]
    msh = [
        "MSH",
        enc,
        _escape(config.application, header),
        _escape(config.facility, header),
        header.fields[3] if header and len(header.fields) > 3 else "",
        header.fields[4] if header and len(header.fields) > 4 else "",
        moment.strftime("%Y%m%d%H%M%S%z"),
        "",
        f"ACK{enc[0]}{trigger}{enc[0]}ACK" if trigger else "ACK",
        control,
        (header.get(11) if header else "") or "P",
        (header.get(12) if header else "") or "2.5.1",
    ]
    segments = [sep.join(msh)]
    original_control = _escape(header.get(10), header) if header else ""
    segments.append(sep.join(["MSA", code, original_control, _escape(text, header)[:80]]))
    if code != "AA":
        location = ""
        if error_location:
            seg, _, number = error_location.partition("-")
            location = enc[0].join([seg, "1", number]) if number else seg
        err_code = hl7_error if hl7_error is not None else 207
        err = ["ERR", "", location, f"{err_code}{enc[0]}{_escape(text, header)[:80]}{enc[0]}HL70357", "E"]
        segments.append(sep.join(err))
    return "\r".join(segments) + "\r"


def batch_ack(acks: Sequence[str], *, now: datetime | None = None, config: Hl7Config | None = None) -> str:
    """ACKs of a batch, wrapped in BHS/BTS so the sender gets them as one reply."""
    config = config or Hl7Config()
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")
    bhs = f"BHS|^~\\&|{_escape(config.application, None)}|{_escape(config.facility, None)}|||{moment}"
    return bhs + "\r" + "".join(acks) + f"BTS|{len(acks)}\r"


# ------------------------------------------------------------------------------------- fields


def _get(segment: Any, message: Any, field_no: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
    """A field's (unescaped) text or "" when absent; hl7 raises IndexError past the last repetition."""
    try:
        value = str(segment.extract_field(1, field_no, repetition, component, sub))
    except (IndexError, KeyError):
        return ""
    return _unescape(message, value)


def _unescape(message: Any, value: str) -> str:
    if "\\" in value:
        # A broken escape sequence: keep the text as sent rather than lose the message.
        with contextlib.suppress(ValueError, IndexError, KeyError):
            value = str(message.unescape(value))
    return value.replace("\r", "\n").strip()


def _repetitions(segment: Any, field_no: int, rep_sep: str) -> int:
    try:
        return len(str(segment(field_no)).split(rep_sep))
    except IndexError:
        return 0


def parse_ts(value: str, default_tz: tzinfo, location: str) -> datetime:
    """An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) as an aware datetime."""
    match = _TS.match(value.strip())
    if not match:
        raise Hl7Error("AE", location, "not an HL7 timestamp (YYYYMMDDHHMMSS+ZZZZ)")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        tz: tzinfo = default_tz
        if offset:
            sign = -1 if offset[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        parsed = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int(float(fraction) * 1_000_000) if fraction else 0,
            tzinfo=tz,
        )
    except ValueError:
        raise Hl7Error("AE", location, "not a valid date or time") from None
    if not in_range(parsed):
        raise Hl7Error("AE", location, "not a valid date or time (year out of range)")
    return parsed


def _coded_text(segment: Any, message: Any, field_no: int) -> str:
    """A CE/CWE's text (component 2), else its identifier (component 1)."""
    return _get(segment, message, field_no, 2) or _get(segment, message, field_no, 1)


def _person(segment: Any, message: Any, field_no: int, *, xcn: bool = False) -> str:
    """XPN "Given Middle Family", or XCN (id first) as "Family, Given Degree" the way labs print it."""
    offset = 1 if xcn else 0
    family, given, middle = (_get(segment, message, field_no, c + offset) for c in (1, 2, 3))
    if xcn:
        degree = _get(segment, message, field_no, 7) or _get(segment, message, field_no, 6)
        name = f"{family}, {' '.join(p for p in (given, middle) if p)}".strip(", ")
        return f"{name} {degree}".strip() if name else _get(segment, message, field_no, 1)
    return " ".join(p for p in (given, middle, family) if p)


def _patient(pid: Any, message: Any, rep_sep: str) -> Patient:
    mrn = ""
    for rep in range(1, _repetitions(pid, 3, rep_sep) + 1):
        value = _get(pid, message, 3, 1, rep)
        if value and _get(pid, message, 3, 5, rep).upper() == "MR":
            mrn = value
            break
        mrn = mrn or value
    mrn = mrn or _get(pid, message, 2)  # v2.3 senders still put the MRN in PID-2
    dob_raw = _get(pid, message, 7)
    dob: str | None = None
    if dob_raw:
        if not re.fullmatch(r"\d{4}(\d{2}(\d{2}(\d{2,6}([.]\d+)?)?)?)?([+-]\d{4})?", dob_raw):
            raise Hl7Error("AE", "PID-7", "not a date (YYYYMMDD)")
        if len(dob_raw) >= 8:
            try:
                dob = date(int(dob_raw[:4]), int(dob_raw[4:6]), int(dob_raw[6:8])).isoformat()
            except ValueError:
                raise Hl7Error("AE", "PID-7", "not a valid date") from None
    phone = _get(pid, message, 13, 1)
    if not phone:
        area, local = _get(pid, message, 13, 6), _get(pid, message, 13, 7)
        if local:
            local = f"{local[:3]}-{local[3:]}" if len(local) == 7 and local.isdigit() else local
            phone = f"{area}-{local}" if area else local
    return Patient(mrn=mrn or None, name=_person(pid, message, 5) or None, dob=dob, phone=phone or None)


def _obx_value(obx: Any, message: Any, rep_sep: str) -> str:
    kind = _get(obx, message, 2).upper()
    values: list[str] = []
    for rep in range(1, _repetitions(obx, 5, rep_sep) + 1):
        if kind in ("CE", "CWE", "CNE"):
            value = _get(obx, message, 5, 2, rep) or _get(obx, message, 5, 1, rep)
        elif kind == "SN":
            # Structured numeric: comparator ^ number ^ separator ^ number, e.g. "<^0.01" or "^1^:^40".
            value = "".join(_get(obx, message, 5, c, rep) for c in (1, 2, 3, 4))
        else:
            try:
                value = str(obx(5)(rep)) if _repetitions(obx, 5, rep_sep) > 1 else str(obx(5))
            except IndexError:
                value = ""
            value = _unescape(message, value)
        if value:
            values.append(value)
    return "\n".join(values)


def _flag(obx: Any, message: Any, rep_sep: str) -> str:
    flags = [_get(obx, message, 8, 1, rep).upper() for rep in range(1, _repetitions(obx, 8, rep_sep) + 1)]
    flags = [f for f in flags if f]
    return max(flags, key=lambda f: FLAG_SEVERITY.get(f, 1)) if flags else ""


# ------------------------------------------------------------------------------------ messages


@dataclass
class _Order:
    obr: Any
    results: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _PatientGroup:
    pid: Any
    orders: list[_Order] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _groups(message: Any) -> list[_PatientGroup]:
    """Walk segments in order: PID starts a patient, OBR an order, OBX a result, NTE notes the last."""
    groups: list[_PatientGroup] = []
    last_result: dict[str, str] | None = None
    rep_sep = str(message.separators[2]) if len(message.separators) > 2 else "~"
    for index, segment in enumerate(message):
        tag = str(segment[0])
        if tag == "PID":
            groups.append(_PatientGroup(segment))
            last_result = None
        elif tag == "OBR" and groups:
            groups[-1].orders.append(_Order(segment))
            last_result = None
        elif tag == "OBX":
            if not groups:
                raise Hl7Error("AE", "PID", "segment missing before OBX", 100)
            if not groups[-1].orders:
                groups[-1].orders.append(_Order(None))
            row = {
                "test": _coded_text(segment, message, 3) or f"result {index}",
                "value": _obx_value(segment, message, rep_sep),
                "units": _get(segment, message, 6, 1) or _get(segment, message, 6, 2),
                "reference_range": _get(segment, message, 7),
                "abnormal_flag": _flag(segment, message, rep_sep),
                "status": _get(segment, message, 11),
            }
            groups[-1].orders[-1].results.append({k: v for k, v in row.items() if v})
            last_result = groups[-1].orders[-1].results[-1]
        elif tag == "NTE" and groups:
            note = _get(segment, message, 3)
            if not note:
                continue
            if last_result is not None:
                last_result["comment"] = (last_result.get("comment", "") + "\n" + note).strip()
            elif groups[-1].orders:
                groups[-1].orders[-1].notes.append(note)
            else:
                groups[-1].notes.append(note)
    return groups


def _result_line(row: dict[str, str]) -> str:
    line = f"{row['test']}: {row.get('value', '(no value)')}"
    if row.get("units"):
        line += f" {row['units']}"
    if row.get("reference_range"):
        line += f"   (ref {row['reference_range']})"
    if row.get("abnormal_flag"):
        line += f"   {row['abnormal_flag']}"
    if row.get("comment"):
        line += f"\n  {row['comment']}"
    return line


def _severity(row: dict[str, str]) -> int:
    flag = row.get("abnormal_flag")
    return FLAG_SEVERITY.get(flag, 1) if flag else -1


def _lab_item(
    header: _Header, message: Any, group: _PatientGroup, external_id: str, received_at: datetime, config: Hl7Config
) -> InboundItem:
    rep_sep = header.encoding[1]
    patient = _patient(group.pid, message, rep_sep)
    rows = [row for order in group.orders for row in order.results]
    if not rows:
        raise Hl7Error("AE", "OBX", "segment missing: a result message needs at least one OBX", 101)
    obr = next((o.obr for o in group.orders if o.obr is not None), None)
    lab = header.get(4) or header.get(3)
    panel = _coded_text(obr, message, 4) if obr is not None else ""
    metadata: dict[str, Any] = {}
    worst = max(rows, key=_severity)  # ties keep message order
    for key in ("test", "value", "units", "reference_range", "abnormal_flag"):
        if worst.get(key):
            metadata[key] = worst[key]
    metadata["results"] = rows
    lines = [" - ".join(p for p in (lab, panel) if p) or "Lab result"]
    if obr is not None:
        accession = _get(obr, message, 3) or _get(obr, message, 2)
        ordering = _person(obr, message, 16, xcn=True)
        collected = _get(obr, message, 7)
        status = _get(obr, message, 25)
        if accession:
            metadata["accession"] = accession
            lines.append(f"Accession: {accession}")
        if collected:
            metadata["collected_at"] = parse_ts(collected, config.default_tz, "OBR-7").isoformat()
            lines.append(f"Collected: {metadata['collected_at']}")
        if ordering:
            metadata["ordering_provider"] = ordering
            lines.append(f"Ordering: {ordering}")
        if status:
            metadata["report_status"] = status
        if panel:
            metadata["panel"] = panel
    if lab:
        metadata["performing_lab"] = lab
    lines += [_result_line(r) for r in rows]
    lines += [n for order in group.orders for n in order.notes] + group.notes
    return InboundItem(
        channel="lab",
        external_id=external_id,
        received_at=received_at,
        body="\n".join(lines),
        patient=patient,
        subject=panel or str(worst.get("test")),
        metadata=metadata,
    )


def _segments(message: Any, tag: str) -> list[Any]:
    return [s for s in message if str(s[0]) == tag]


def _referral_item(
    header: _Header, message: Any, external_id: str, received_at: datetime, message_type: str
) -> InboundItem:
    pids = _segments(message, "PID")
    if not pids:
        raise Hl7Error("AE", "PID", "segment missing", 100)
    patient = _patient(pids[0], message, header.encoding[1])
    metadata: dict[str, Any] = {"hl7_message_type": message_type}
    reasons: list[str] = []
    for rf1 in _segments(message, "RF1"):
        for key, n in (("referral_status", 1), ("priority", 2), ("referral_type", 3)):
            if value := _coded_text(rf1, message, n):
                metadata[key] = value
        if value := _get(rf1, message, 6):
            metadata["referral_id"] = value
        if value := _coded_text(rf1, message, 10):
            reasons.append(value)
    for dg1 in _segments(message, "DG1"):
        if value := (_get(dg1, message, 4) or _coded_text(dg1, message, 3)):
            reasons.append(value)
    services: list[str] = []
    for obr in _segments(message, "OBR"):
        if value := _coded_text(obr, message, 4):
            services.append(value)
        if value := _coded_text(obr, message, 31):
            reasons.append(value)
        if (ordering := _person(obr, message, 16, xcn=True)) and "referring_provider" not in metadata:
            metadata["referring_provider"] = ordering
    for prd in _segments(message, "PRD"):
        role = _get(prd, message, 1).upper()
        name = _person(prd, message, 2)
        if name and role in ("RP", "RF"):
            metadata["referring_provider"] = name
        elif name and role == "RT":
            metadata["referred_to"] = name
    for orc in _segments(message, "ORC"):
        if (ordering := _person(orc, message, 12, xcn=True)) and "referring_provider" not in metadata:
            metadata["referring_provider"] = ordering
    notes = [note for nte in _segments(message, "NTE") if (note := _get(nte, message, 3))]
    subject = "Referral: " + services[0] if services else "Referral"
    lines = [subject]
    if metadata.get("referring_provider"):
        lines.append(f"From: {metadata['referring_provider']}")
    if reasons:
        lines.append("Reason: " + "; ".join(dict.fromkeys(reasons)))
    lines += notes
    return InboundItem(
        channel="ehr",
        external_id=external_id,
        received_at=received_at,
        body="\n".join(lines),
        patient=patient,
        subject=subject,
        metadata=metadata,
    )


def _items(message_text: str, header: _Header, config: Hl7Config) -> tuple[list[InboundItem], str]:
    message_code, trigger = header.get(9, 1).upper(), header.get(9, 2).upper()
    if not message_code:
        raise Hl7Error("AR", "MSH-9", "message type missing", 101)
    if message_code == "ADT":
        return [], "ADT received; careroute does not keep registration data"
    if (message_code, trigger) != ("ORU", "R01") and (message_code, trigger) not in REFERRAL_TYPES:
        raise Hl7Error("AR", "MSH-9", "unsupported message type (careroute takes ORU^R01, ORM^O01, REF^I12, ADT)", 200)
    control_id = header.get(10)
    if not control_id:
        raise Hl7Error("AE", "MSH-10", "message control id missing", 101)
    if not header.get(7):
        raise Hl7Error("AE", "MSH-7", "message time missing", 101)
    received_at = parse_ts(header.get(7), config.default_tz, "MSH-7")
    sender = header.get(4) or header.get(3)
    external_id = f"{sender}:{control_id}" if sender else control_id
    try:
        message = hl7.parse(message_text)
    except Exception:  # the library raises several kinds; none may reach the sender as a stack trace
        raise Hl7Error("AE", "MSH", "message could not be parsed", 102) from None
    if message_code == "ORU":
        groups = _groups(message)
        if not groups:
            raise Hl7Error("AE", "PID", "segment missing", 100)
        items = [
            _lab_item(header, message, g, external_id if i == 0 else f"{external_id}/{i + 1}", received_at, config)
            for i, g in enumerate(groups)
        ]
    else:
        items = [_referral_item(header, message, external_id, received_at, f"{message_code}^{trigger}")]
    processing = header.get(11)
    if processing and processing != "P":
        # A training/debug message still goes through, but says so.
        items = [replace(it, metadata={**it.metadata, "hl7_processing_id": processing}) for it in items]
    return [storable(it) for it in items], ""


def handle_message(
    raw: str, *, config: Hl7Config | None = None, now: datetime | None = None
) -> tuple[list[InboundItem], str]:
    """Items from one HL7 v2 message and the ACK to send after they are durable (AA/AE/AR)."""
    result = process_message(raw, config=config, now=now)
    return result.items, result.ack


def process_message(raw: str, *, config: Hl7Config | None = None, now: datetime | None = None) -> Hl7Result:
    """Like handle_message, with the ACK code and control id for the caller's bookkeeping."""
    config = config or Hl7Config()
    text = normalise(raw)
    control_id: str | None = None
    try:
        header = _header(text)
        control_id = header.get(10) or None
        if text.count("\rMSH") > 0:
            raise Hl7Error("AR", "MSH", "more than one message: send them as a batch (BHS/BTS)", 100)
        items, note = _items(text, header, config)
    except Hl7Error as exc:
        ack = ack_for(
            text, exc.code, str(exc), error_location=exc.location, hl7_error=exc.hl7_error, config=config, now=now
        )
        return Hl7Result([], ack, exc.code, control_id, raw)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        # The parser library failing on a shape nobody foresaw: the sender still gets an answer.
        log.warning("HL7 message %s could not be processed: %s", control_id, type(exc).__name__)
        ack = ack_for(text, "AE", "message could not be processed", hl7_error=207, config=config, now=now)
        return Hl7Result([], ack, "AE", control_id, raw)
    return Hl7Result(items, ack_for(text, "AA", note, config=config, now=now), "AA", control_id, raw)


def process_batch(raw: str, *, config: Hl7Config | None = None, now: datetime | None = None) -> list[Hl7Result]:
    """Each message of a batch (or the single message) processed on its own."""
    return [process_message(m, config=config, now=now) for m in split_batch(raw)]


def handle_batch(
    raw: str, *, config: Hl7Config | None = None, now: datetime | None = None
) -> list[tuple[list[InboundItem], str]]:
    """(items, ACK) for each message of a batch."""
    return [(r.items, r.ack) for r in process_batch(raw, config=config, now=now)]
