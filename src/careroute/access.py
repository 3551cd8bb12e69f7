"""Who may see and do what: roles, queues and token scopes, as pure data and checks.

A `Principal` is whoever is behind a request: a signed-in user, an integration's
API token, or (in demo mode only) the person picked on the demo sign-in page.
The shell (API, pages) finds the principal; these functions decide.

- staff: the tasks of their own queues (a staff member's queues come from the rule pack)
- supervisor: the queues they supervise (all when none are listed); may reassign and reroute
- admin: everything, plus rule packs, users and integrations
- auditor: read-only; the access audit and the event log, never commands
- integration (API tokens): only their scopes: `intake` posts items, `read` reads tasks and metrics
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["staff", "supervisor", "admin", "auditor", "integration"]
ROLES: tuple[Role, ...] = ("staff", "supervisor", "admin", "auditor")
SCOPES = ("intake", "read", "commands", "admin")


@dataclass(frozen=True)
class Principal:
    id: str
    kind: Literal["user", "token", "demo"]
    role: Role
    name: str = ""
    staff_id: str | None = None
    #: The queues whose tasks this principal may read; None means every queue.
    queues: frozenset[str] | None = None
    #: Clinical roles may "break the glass" to open a task outside their queues, with a reason.
    clinical: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """The name events and the access log record: the staff id when the user is one of the pack's staff."""
        return self.staff_id or self.id

    def sees_queue(self, queue: str) -> bool:
        return self.queues is None or queue in self.queues

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles or self.role == "admin"

    def may(self, scope: str) -> bool:
        """Tokens carry scopes; people carry them by role."""
        if self.kind == "token":
            return scope in self.scopes
        return scope in role_scopes(self.role)


def role_scopes(role: Role) -> frozenset[str]:
    return {
        "staff": frozenset({"read", "commands"}),
        "supervisor": frozenset({"read", "commands"}),
        "admin": frozenset({"intake", "read", "commands", "admin"}),
        "auditor": frozenset({"read"}),
        "integration": frozenset(),
    }[role]


def visible_queues(role: Role, own: Iterable[str] | None, listed: Iterable[str] | None) -> frozenset[str] | None:
    """The queues a user reads: listed ones if any; else a staff member's own; auditors none; others all."""
    if listed is not None:
        return frozenset(listed)
    if role == "staff":
        return frozenset(own or ())
    if role == "auditor":
        # Auditors read the audit trail, not patients' messages (minimum necessary).
        return frozenset()
    return None
