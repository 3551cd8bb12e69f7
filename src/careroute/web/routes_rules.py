"""Rules: the active pack in plain language, the versions the practice has run, and which rules misfire."""

from __future__ import annotations

import markdown
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from careroute.dispatcher import Dispatcher
from careroute.rules.explain import explain_pack
from careroute.rules.loader import LoadedPack
from careroute.web import data
from careroute.web.templating import Pages


def pack_html(pack: LoadedPack) -> Markup:
    """The pack's plain-language explanation as HTML, with any raw HTML in the pack shown as text.

    Python-Markdown passes raw HTML through; a pack's descriptions are typed by
    people, so the HTML readers are switched off and `<` arrives escaped.
    """
    md = markdown.Markdown(extensions=["extra"])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return Markup(md.convert(explain_pack(pack)))


def router(dispatcher: Dispatcher, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    explained: dict[str, Markup] = {}  # rendered once per pack version (a publish switches the pack)

    @r.get("/rules", response_class=HTMLResponse)
    def rules(request: Request) -> Response:
        now = dispatcher.clock()
        return pages.render(
            request,
            "rules.html",
            active="rules",
            pack=dispatcher.pack,
            explained=explained.get(dispatcher.pack.version)
            or explained.setdefault(dispatcher.pack.version, pack_html(dispatcher.pack)),
            versions=data.pack_versions(dispatcher),
            misfires=data.misfires(dispatcher, now),
            weeks=data.HISTORY_WEEKS,
        )

    return r
