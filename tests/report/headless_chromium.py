"""A page loaded in a real headless Chromium, driven over the DevTools protocol (aiohttp's
websocket client): what the page's DOM holds once loaded, and every console error, uncaught
exception and browser log error it produced.

Chromium is started with its own profile folder and a DevTools port the OS picks; it is
closed through the protocol and, if it does not exit, killed by its own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
TIMEOUT = 60.0


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@dataclass
class LoadedPage:
    """What evaluating `expression` on the loaded page returned, and the errors seen."""

    value: Any
    errors: list[str] = field(default_factory=list)


async def load(browser: str, page: Path, expression: str, profile: Path) -> LoadedPage:
    process = await asyncio.create_subprocess_exec(
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        endpoint = await asyncio.wait_for(_devtools_url(process), TIMEOUT)
        return await asyncio.wait_for(_drive(endpoint, page, expression), TIMEOUT)
    finally:
        await _stop(process)


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    seen = []
    while line := await process.stderr.readline():
        text = line.decode(errors="replace")
        seen.append(text)
        found = LISTENING.search(text)
        if found:
            # Keep draining stderr so that Chromium never blocks on a full pipe.
            asyncio.get_running_loop().create_task(_drain(process.stderr))
            return found.group(1)
    raise RuntimeError("chromium exited before DevTools listened:\n" + "".join(seen[-20:]))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def _drive(browser_url: str, page: Path, expression: str) -> LoadedPage:
    port = browser_url.split("/")[2]
    errors: list[str] = []
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://{port}/json/list") as answer:
            targets = await answer.json()
        target = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = itertools.count(1)
            loaded = asyncio.Event()
            replies: dict[int, asyncio.Future[dict[str, Any]]] = {}

            async def receive() -> None:
                async for message in ws:
                    event = json.loads(message.data)
                    if "id" in event:
                        replies.pop(event["id"]).set_result(event)
                        continue
                    method, params = event.get("method"), event.get("params", {})
                    if method == "Page.loadEventFired":
                        loaded.set()
                    elif method == "Runtime.exceptionThrown":
                        details = params["exceptionDetails"]
                        errors.append(f"exception: {details.get('exception', details)}")
                    elif method == "Runtime.consoleAPICalled" and params["type"] in (
                        "error",
                        "assert",
                    ):
                        texts = [a.get("value", a.get("description")) for a in params["args"]]
                        errors.append(f"console.{params['type']}: {texts}")
                    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                        errors.append(f"log: {params['entry']['text']}")

            async def call(method: str, **params: Any) -> dict[str, Any]:
                number = next(ids)
                replies[number] = asyncio.get_running_loop().create_future()
                await ws.send_json({"id": number, "method": method, "params": params})
                reply = await replies[number]
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]

            reader = asyncio.create_task(receive())
            try:
                for domain in ("Runtime", "Log", "Page"):
                    await call(f"{domain}.enable")
                await call("Page.navigate", url=page.resolve().as_uri())
                await loaded.wait()
                result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                # Errors logged by the load itself arrive before this round trip ends.
                await call("Runtime.evaluate", expression="1")
                with contextlib.suppress(RuntimeError):
                    await call("Browser.close")
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    if "exceptionDetails" in result:
        raise RuntimeError(f"the test's own expression failed: {result['exceptionDetails']}")
    return LoadedPage(result["result"].get("value"), errors)


async def _stop(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 10.0)
    # Its own session (start_new_session): the group is this Chromium and its helpers only,
    # which a browser that closed has ended already, and one that did not is ended now.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
