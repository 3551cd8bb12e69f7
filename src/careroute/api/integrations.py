"""The doors other systems use: signed webhooks, FHIR R4, HL7 v2 over HTTP, phone and fax callbacks.

Every door turns its source's format into InboundItems (careroute.intake.*)
and hands them to the same dispatcher.intake_batch, which is idempotent on
(channel, external_id): a sender's retry never makes a second task, and an
item is committed before the 2xx or the ACK goes back.

Each source (ehr, portal, phone, fax, ...) has its own credentials: an
HMAC-SHA256 signature over the raw body with a timestamp, or a bearer token.
A wrong or missing one is a 401, logged with the source and the reason only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from careroute.dispatcher import Dispatcher
from careroute.intake import fax as fax_adapter
from careroute.intake import fhir, hl7v2, voicemail
from careroute.intake.contract import InboundItemIn, describe
from careroute.intake.signatures import SignatureError, SourceCredentials, WebhookAuthenticator
from careroute.model import InboundItem

log = logging.getLogger("careroute.integrations")

HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"


class SourcesError(ValueError):
    """A sources file that cannot be used; names the file and the field."""


@dataclass(frozen=True)
class Sources:
    """Who may call the integration doors. `open` (no sources file) accepts unsigned calls: a demo set-up."""

    authenticator: WebhookAuthenticator | None

    @property
    def open(self) -> bool:
        return self.authenticator is None


def load_sources(path: Path | None) -> Sources:
    """Read `sources: {name: {hmac_secrets: [...], tokens_sha256: [...]}}` from a YAML file."""
    if path is None:
        return Sources(None)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesError(f"{path}: cannot read ({type(exc).__name__})") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise SourcesError(f"{path}: expected `sources:` with one entry per sending system")
    creds = []
    for name, spec in entries.items():
        if not isinstance(spec, dict):
            raise SourcesError(f"{path}, sources.{name}: expected hmac_secrets and/or tokens_sha256")
        secrets = spec.get("hmac_secrets") or []
        tokens = spec.get("tokens_sha256") or []
        if not secrets and not tokens:
            raise SourcesError(f"{path}, sources.{name}: give hmac_secrets or tokens_sha256")
        try:
            creds.append(
                SourceCredentials(
                    source=str(name),
                    hmac_secrets=tuple(str(s).encode() for s in secrets),
                    token_sha256=tuple(str(t) for t in tokens),
                )
            )
        except ValueError as exc:
            raise SourcesError(f"{path}, sources.{name}: {exc}") from None
    return Sources(WebhookAuthenticator(creds))


def _problem(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "message": message, "problems": [{"field": field, "message": message}]},
        status_code=status,
    )


def mount_integrations(app: FastAPI, dispatcher: Dispatcher, sources: Sources) -> None:
    zone = dispatcher.zone
    hl7_config = hl7v2.Hl7Config(default_tz=zone)

    async def authenticate(request: Request, source: str) -> tuple[bytes, Response | None]:
        body = await request.body()
        if sources.authenticator is None:
            return body, None
        try:
            sources.authenticator.authenticate(source, dict(request.headers), body, dispatcher.clock())
        except SignatureError as exc:
            log.warning("refused a request from source %s: %s", source, exc.reason)
            return body, JSONResponse(
                {"error": "unauthorized", "message": f"request not authenticated ({exc.reason})"}, status_code=401
            )
        return body, None

    def take_in(items: list[InboundItem]) -> list[dict[str, Any]]:
        results = dispatcher.intake_batch(items) if items else []
        return [
            {"task_id": r.task_id, "created": r.created, "merged": r.merged, "decision": r.decision.to_dict()}
            for r in results
        ]

    def json_body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            # RecursionError: JSON nested thousands deep is no sender's message, and must not be a 500.
            return None

    @app.post("/webhooks/{source}", tags=["integrations"])
    async def webhook(source: str, request: Request) -> Response:
        """One InboundItem (or a JSON array of them) from a named source, signed with that source's secret."""
        body, refused = await authenticate(request, source)
        if refused:
            return refused
        data = json_body(body)
        if data is None:
            return _problem(422, "(body)", "request body is not valid JSON")
        raw = data if isinstance(data, list) else [data]
        items, problems = [], []
        for i, entry in enumerate(raw):
            try:
                items.append(InboundItemIn.model_validate(entry).to_item())
            except ValidationError as exc:
                problems += describe(exc, (i,) if isinstance(data, list) else ())
        if problems:
            return JSONResponse(
                {"error": "invalid_request", "message": "nothing was stored", "problems": problems}, 422
            )
        return JSONResponse({"results": take_in(items)})

    async def fhir_intake(request: Request) -> Response:
        body, refused = await authenticate(request, "ehr")
        if refused:
            return refused
        try:
            items = fhir.items_from_fhir(body, received_at=dispatcher.clock())
        except fhir.FhirError as exc:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": str(exc), "expression": [exc.path]}],
            }
            return JSONResponse(outcome, status_code=422, media_type="application/fhir+json")
        results = take_in(items)
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": f"{len(results)} item(s) taken in as task(s) "
                    + ", ".join(str(r["task_id"]) for r in results),
                }
            ],
        }
        return JSONResponse(outcome, status_code=200, media_type="application/fhir+json")

    app.add_api_route("/fhir/r4", fhir_intake, methods=["POST"], tags=["integrations"], summary="FHIR R4 intake")

    async def fhir_typed(resource_type: str, request: Request) -> Response:
        # The resource type in the path is informative: the body's own resourceType is what is read.
        return await fhir_intake(request)

    app.add_api_route(
        "/fhir/r4/{resource_type}",
        fhir_typed,
        methods=["POST"],
        tags=["integrations"],
        summary="FHIR R4 intake (Communication, Task, ServiceRequest, DiagnosticReport, ClaimResponse, Bundle)",
    )

    @app.post("/hl7/v2", tags=["integrations"])
    async def hl7_over_http(request: Request) -> Response:
        """HL7 v2 messages (ORU^R01, ORM^O01, REF^I12; ADT acknowledged and ignored), one or a batch.

        Answers with the ACK(s): AA when the items are stored, AE for a bad field, AR for what cannot be taken."""
        body, refused = await authenticate(request, "ehr")
        if refused:
            return refused
        text = body.decode("utf-8", errors="replace")
        acks = []
        for result in hl7v2.process_batch(text, config=hl7_config, now=dispatcher.clock()):
            ack = result.ack
            if result.code == "AA" and result.items:
                try:
                    take_in(list(result.items))
                except Exception as exc:  # the sender must retry: say so in the ACK, never lose the message
                    log.error("HL7 message %s not stored: %s", result.control_id, type(exc).__name__)
                    ack = hl7v2.ack_for(result.raw, "AE", "not stored, please resend", config=hl7_config)
            acks.append(ack)
        reply = acks[0] if len(acks) == 1 else hl7v2.batch_ack(acks, config=hl7_config)
        return Response(reply, media_type=HL7_MEDIA_TYPE)

    @app.post("/voicemail", tags=["integrations"])
    async def voicemail_callback(request: Request) -> Response:
        """A phone system's transcription callback: JSON, or Twilio-style form fields (CallSid, From, ...)."""
        body, refused = await authenticate(request, "phone")
        if refused:
            return refused
        payload: Mapping[str, Any] | None
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            payload = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            data = json_body(body)
            payload = data if isinstance(data, dict) else None
        if payload is None:
            return _problem(422, "(body)", "expected a JSON object or form fields")
        try:
            item = voicemail.parse_voicemail(payload, received_at=dispatcher.clock())
        except voicemail.VoicemailError as exc:
            field, _, message = str(exc).partition(": ")
            return _problem(422, field, message or str(exc))
        return JSONResponse({"results": take_in([item])})

    @app.post("/fax", tags=["integrations"])
    async def fax_upload(request: Request) -> Response:
        """A fax: a multipart upload (`file` = the PDF, `fax_id`, optional `from_number`, `csid`) or a JSON callback
        (`fax_id`, `text` or `pdf_base64`). A scanned fax without a text layer is still taken in and goes to review."""
        body, refused = await authenticate(request, "fax")
        if refused:
            return refused
        now = dispatcher.clock()
        try:
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                form = await request.form()
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    return _problem(422, "file", "attach the fax as a PDF file named `file`")
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                item = fax_adapter.fax_item(
                    fax_id=fields.get("fax_id", ""),
                    received_at=now,
                    pdf=await upload.read(),
                    from_number=fields.get("from_number"),
                    csid=fields.get("csid"),
                )
            else:
                data = json_body(body)
                if not isinstance(data, dict):
                    return _problem(422, "(body)", "expected multipart form data or a JSON object")
                item = fax_adapter.parse_fax_callback(data, received_at=now)
        except fax_adapter.FaxError as exc:
            field, _, message = str(exc).partition(": ")
            return _problem(422, field, message or str(exc))
        return JSONResponse({"results": take_in([item])})


@dataclass(frozen=True)
class Listeners:
    """Socket listeners started with the server: HL7 v2 over MLLP and inbound SMTP (None: not started)."""

    host: str = "127.0.0.1"
    mllp_port: int | None = None
    smtp_port: int | None = None
    smtp_recipients: tuple[str, ...] = ()


async def start_listeners(dispatcher: Dispatcher, listeners: Listeners) -> list[Any]:
    """Start the configured listeners on the running event loop; each hands items to dispatcher.intake."""
    from careroute.intake.mllp import start_mllp_server
    from careroute.intake.smtp import start_smtp_server

    servers: list[Any] = []
    if listeners.mllp_port is not None:
        config = hl7v2.Hl7Config(default_tz=dispatcher.zone)
        servers.append(await start_mllp_server(listeners.host, listeners.mllp_port, dispatcher.intake, config=config))
        log.info("HL7 v2 MLLP listener on %s:%s", listeners.host, listeners.mllp_port)
    if listeners.smtp_port is not None:
        servers.append(
            await start_smtp_server(listeners.host, listeners.smtp_port, dispatcher.intake, listeners.smtp_recipients)
        )
        log.info("SMTP intake listener on %s:%s", listeners.host, listeners.smtp_port)
    return servers
