"""The portal's pages, from the templates in ``portal/`` (an instance overrides them in its
``templates/``). The pages are Dutch: the partners are Dutch organisations."""

from __future__ import annotations

from typing import Any

from pipeline.domain.config import Config
from pipeline.domain.i18n import using
from pipeline.infra.templating import environment, render_template


class Pages:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.env = environment(config.root / "templates")

    def text(self, name: str, **context: object) -> str:
        with using("nl"):
            return render_template(
                self.env, f"portal/{name}", self.config.root, settings=self.config.settings, **context
            )

    def page(self, name: str, heading: str, status: int = 200, **context: Any) -> Any:
        from starlette.responses import HTMLResponse

        context.pop("request", None)
        context.setdefault("signed_in", None)
        context.setdefault("csrf", "")
        return HTMLResponse(self.text(name, heading=heading, **context), status_code=status)
