"""django-helpdesk's side of benchmarks/helpdesk.py; runs inside its own venv (Django, not careroute).

    python _helpdesk_worker.py DB_PATH ITEMS_JSONL --tickets N [--form-sample S] [--assign-sample A]
                               [--synchronous FULL|NORMAL]

Builds N open tickets in queues on SQLite (WAL, synchronous=FULL or NORMAL), through `TicketForm.save`, the path
its staff "new ticket" view and its API take. When S < N, the first N - S tickets are written in bulk
(`bulk_create`, a ticket and its opening follow-up each) and only the last S go through the form, so the
form's rate is measured on a store of the full size. Then it assigns owners to A tickets through
`update_ticket` (the path of its ticket view), makes 1% of the tickets overdue and runs its
`escalate_tickets` management command, and runs it once more with nothing due. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

#: The careroute queues, so both systems file the same work in the same number of queues.
QUEUES = [
    "clinical_triage", "on_call", "nurse", "refills", "results", "referrals",
    "authorizations", "billing", "scheduling", "records", "review",
]  # fmt: skip
STAFF = 20

# This file sits beside benchmarks/helpdesk.py, which would shadow the `helpdesk` package on import.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)


def configure(db: Path, synchronous: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        USE_TZ=True,
        TIME_ZONE="America/New_York",
        SITE_ID=1,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.sites",
            "django.contrib.messages",
            "django.contrib.humanize",
            "rest_framework",
            "helpdesk",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(db),
                # FULL: the same durability as careroute's store (WAL, a full sync at each commit).
                "OPTIONS": {"init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};"},
            }
        },
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ],
        # Mail is rendered and handed to a backend as in production, but kept in memory, not sent:
        # careroute likewise only queues its notifications in the same transaction.
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="helpdesk@example.org",
        HELPDESK_STAFF_ONLY_TICKET_OWNERS=True,
        # Teams need the pinax-teams app; the benchmark files work in queues only.
        HELPDESK_TEAMS_MODE_ENABLED=False,
        LOGGING_CONFIG=None,
    )
    django.setup()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("items")
    p.add_argument("--tickets", type=int, required=True)
    p.add_argument("--form-sample", type=int, default=0, help="tickets created through the form (0: all)")
    p.add_argument("--assign-sample", type=int, default=1_000)
    p.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    args = p.parse_args()
    configure(Path(args.db), args.synchronous)

    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.core.management import call_command
    from django.utils import timezone
    from helpdesk.forms import TicketForm
    from helpdesk.models import FollowUp, Queue, Ticket
    from helpdesk.update_ticket import update_ticket

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    staff = [
        user_model.objects.create_user(f"staff{i}", f"staff{i}@example.org", "x", is_staff=True) for i in range(STAFF)
    ]
    queues = [
        Queue.objects.create(title=q, slug=q.replace("_", "-"), email_address=f"{q}@example.org", escalate_days=1)
        for q in QUEUES
    ]
    items = [json.loads(line) for line in Path(args.items).read_text().splitlines() if line.strip()]
    n = args.tickets
    sample = args.form_sample or n
    bulk = n - sample
    out: dict[str, Any] = {"tickets": n, "form_sample": sample, "bulk": bulk}

    t = time.perf_counter()
    batch = 5_000
    for start in range(0, bulk, batch):
        now = timezone.now()
        rows = []
        for i in range(start, min(bulk, start + batch)):
            item = items[i % len(items)]
            rows.append(
                Ticket(
                    title=(item.get("subject") or "message")[:200],
                    queue=queues[i % len(queues)],
                    created=now,
                    status=Ticket.OPEN_STATUS,
                    submitter_email=f"patient{i}@example.org",
                    description=item["body"],
                    priority=3,
                )
            )
        made = Ticket.objects.bulk_create(rows)
        FollowUp.objects.bulk_create(
            FollowUp(ticket=tk, title="Ticket Opened", date=now, public=True, comment=tk.description) for tk in made
        )
    out["bulk_seconds"] = time.perf_counter() - t

    choices = [(q.id, q.title) for q in queues]
    cpu = time.process_time()
    t = time.perf_counter()
    for i in range(bulk, n):
        item = items[i % len(items)]
        form = TicketForm(
            queue_choices=choices,
            data={
                "queue": queues[i % len(queues)].id,
                "title": (item.get("subject") or "message")[:200],
                "body": item["body"],
                "priority": 3,
                "submitter_email": f"patient{i}@example.org",
                "assigned_to": "",
            },
        )
        if not form.is_valid():
            raise SystemExit(f"form refused ticket {i}: {sorted(form.errors)}")
        form.save(user=staff[i % STAFF])
    form_seconds = time.perf_counter() - t
    out["create_per_s"] = sample / form_seconds
    out["create_cpu_ms"] = (time.process_time() - cpu) * 1000 / sample
    mail.outbox.clear()

    rng = random.Random(11)
    ids = list(Ticket.objects.values_list("id", flat=True))
    assign_ids = rng.sample(ids, min(args.assign_sample, len(ids)))
    cpu = time.process_time()
    t = time.perf_counter()
    for k, tid in enumerate(assign_ids):
        ticket = Ticket.objects.get(id=tid)
        update_ticket(staff[0], ticket, owner=staff[k % STAFF].id)
    out["assign_per_s"] = len(assign_ids) / (time.perf_counter() - t)
    out["assign_cpu_ms"] = (time.process_time() - cpu) * 1000 / len(assign_ids)
    mail.outbox.clear()

    # 1% overdue: created two days ago, beyond the queues' one-day escalation.
    overdue = rng.sample(ids, max(1, len(ids) // 100))
    Ticket.objects.filter(id__in=overdue).update(created=timezone.now() - timedelta(days=2))
    cpu = time.process_time()
    t = time.perf_counter()
    call_command("escalate_tickets")
    escalate = time.perf_counter() - t
    cpu = time.process_time() - cpu
    escalated = Ticket.objects.filter(last_escalation__isnull=False).count()
    out["escalate_cpu_ms"] = cpu * 1000 / escalated
    out.update(escalate_ms=escalate * 1000, escalated=escalated, escalate_ms_per_task=escalate * 1000 / escalated)
    t = time.perf_counter()
    call_command("escalate_tickets")
    out["idle_pass_ms"] = (time.perf_counter() - t) * 1000
    out["open"] = Ticket.objects.filter(status=Ticket.OPEN_STATUS).count()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
