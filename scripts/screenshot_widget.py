"""Take the screenshots in docs/widget.md: the demo shop with the widget open, on a desktop and a phone.

    .venv/bin/python scripts/screenshot_widget.py                 # starts its own server (trains once)
    .venv/bin/python scripts/screenshot_widget.py --url http://127.0.0.1:8000   # or use `make run`'s

Needs Debian's chromium (`make browser-deps`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from server.testing import ServerNotReady, ServerProcess, free_port, uvicorn_command

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


@contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="supportbot-screenshot-")) / "state"
    env = {**os.environ, "SUPPORTBOT_PROJECT_DIR": str(ROOT), "SUPPORTBOT_STATE_DIR": str(state),
           "SUPPORTBOT_WATCH_KNOWLEDGE": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
    with ServerProcess(uvicorn_command(port), port=port, env=env, cwd=ROOT) as process:
        try:
            process.wait_ready(420)
        except ServerNotReady as e:
            raise SystemExit("the server did not start; try `supportbot serve` to see why") from e
        yield process.url


def show_conversation(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot .quick button").first).to_be_visible(timeout=20_000)
    box = chat.get_by_label("Message")
    box.fill("How long do I have to return something?")
    box.press("Enter")
    # the answer cites its source as a link (a separate list appears only for sources the text does not cite)
    source = chat.locator(".msg.bot a", has_text="Returns, exchanges and refunds").last
    expect(source).to_be_attached(timeout=20_000)
    # a long answer is shown from its top; the picture is what the customer sees after reading on
    chat.locator(".messages").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(source).to_be_visible()
    box.evaluate("el => el.blur()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed: run `make browser-deps`")
    args.out.mkdir(parents=True, exist_ok=True)
    with server(args.url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for name, viewport in (("widget.png", (1200, 800)), ("widget-phone.png", (360, 740))):
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1)
            page.emulate_media(reduced_motion="reduce")
            show_conversation(page, base)
            page.screenshot(path=str(args.out / name))
            page.close()
            sys.stdout.write(f"wrote {args.out / name}\n")
        browser.close()


if __name__ == "__main__":
    main()
