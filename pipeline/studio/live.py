"""The studio's live refresh: a watcher (watchfiles, on ``issues/`` and ``templates/``) and a tick (the
state database, ``sources.yaml``) rebuild the snapshots that changed, and server-sent events tell the
open pages, whose script fetches the page again and swaps the parts that changed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from pipeline.domain.errors import PipelineError
from pipeline.domain.issues import ISSUE_ID_RE
from pipeline.studio.workspace import Workspace


class Live:
    """The open pages of one Workspace, told when what they show changed; ``lifespan`` runs the
    watcher and the tick while the app serves."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.generation = 0
        self.changed: asyncio.Condition | None = None
        self.stop: asyncio.Event | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self.changed = asyncio.Condition()
        self.stop = asyncio.Event()
        tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._tick())]
        try:
            yield
        finally:
            self.stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ws.close()

    async def _changed(self, issue_ids: set[str] | None) -> None:
        """Rebuild the snapshots that changed (off the event loop), then wake the open pages."""
        import anyio

        cached = list(self.ws._cache) if issue_ids is None else [i for i in issue_ids if ISSUE_ID_RE.match(i)]
        for issue_id in cached:
            with contextlib.suppress(PipelineError):
                await anyio.to_thread.run_sync(self.ws.snapshot, issue_id)
        assert self.changed is not None
        async with self.changed:
            self.generation += 1
            self.changed.notify_all()

    async def _watch(self) -> None:
        from watchfiles import awatch

        assert self.stop is not None
        issues, templates = self.ws.root / "issues", self.ws.root / "templates"
        while not self.stop.is_set():
            paths = [p for p in (issues, templates) if p.is_dir()]
            if not paths:
                await asyncio.sleep(0.5)
                continue
            async for changes in awatch(
                *paths, stop_event=self.stop, debounce=200, step=10, rust_timeout=500, yield_on_timeout=True
            ):
                if not changes:
                    if any(not p.is_dir() for p in paths) or (templates.is_dir() and templates not in paths):
                        break  # a watched folder went or came: watch again
                    continue
                ids: set[str] | None = set()
                for _kind, name in changes:
                    p = Path(name)
                    if p.parent == issues and p.suffix == ".yaml":
                        assert ids is not None
                        ids.add(p.stem)
                    elif templates in p.parents:
                        ids = None
                        break
                if ids is None or ids:
                    await self._changed(ids)

    async def _tick(self) -> None:
        """Once a second: a collect (the state database) or sources.yaml changed what pages show."""
        import anyio

        assert self.stop is not None
        last = None
        while not self.stop.is_set():
            try:
                key = await anyio.to_thread.run_sync(
                    lambda: (self.ws.data_version(), self.ws._settings_key())
                )
            except PipelineError:
                key = None
            if last is not None and key != last:
                await self._changed(None)
            last = key
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)

    async def stream(self, request: Request, current: Callable[[], Any]) -> Response:
        import anyio

        async def events() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            sent = None
            while True:
                value = await anyio.to_thread.run_sync(current)
                if value != sent:
                    yield f"event: version\ndata: {value}\n\n"
                    sent = value
                assert self.changed is not None
                async with self.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), 15)
                if await request.is_disconnected():
                    return
                yield ": still here\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
