"""Nothing typed is lost when a console session ends (docs/console.md): with the real session middleware, a
knowledge edit posted after the session expired comes back as the form with the text, and after signing in
again `/console/api/session` gives the new CSRF token that `static/console/keep.js` puts in the form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.staff import StaffServices
from tests.console.conftest import PASSWORD, ConsoleClient, login_csrf

Clients = Callable[..., ConsoleClient]


def test_the_session_api_gives_the_signed_in_members_csrf_token(console_client: Clients) -> None:
    editor = console_client("editor")
    answer = editor.get("/console/api/session")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"email": editor.member.email, "role": "editor", "csrf_token": editor.csrf}
    editor.post_form("/console/logout")
    signed_out = editor.get("/console/api/session")
    assert signed_out.status_code == 401 and signed_out.json()["error"]["code"] == "unauthorized"


def test_an_edit_posted_after_the_session_expired_is_kept_then_saved_with_the_new_token(
    console_client: Clients, staff_services: StaffServices
) -> None:
    editor = console_client("editor")
    old_token = editor.csrf
    sessions = staff_services.sessions
    real_clock = sessions.clock  # type: ignore[attr-defined]
    sessions.clock = lambda: datetime.now(UTC) + timedelta(hours=13)  # type: ignore[attr-defined]  # idle > 12 h
    try:
        form = {
            "csrf_token": old_token,
            "question": "Q?",
            "alternates": "",
            "answer": "My typed answer.",
            "file_hash": "",
        }
        kept = editor.post("/console/knowledge/some-entry", data=form, follow_redirects=False)
    finally:
        sessions.clock = real_clock  # type: ignore[attr-defined]
    assert kept.status_code == 401 and "Your console session has ended" in kept.text
    assert "My typed answer." in kept.text
    assert list(staff_services.audit.entries(action="knowledge.").entries) == []
    # signing in again (another tab): a new session, a new token, which the kept page fetches before posting
    signed_in = editor.post(
        "/console/login",
        data={"email": editor.member.email, "password": PASSWORD, "csrf_token": login_csrf(editor)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    fresh = editor.get("/console/api/session").json()["csrf_token"]
    assert fresh != old_token
    stale = editor.post("/console/knowledge/some-entry", data=form, follow_redirects=False)
    assert stale.status_code == 403 and "security token was out of date" in stale.text
    assert f'name="csrf_token" value="{fresh}"' in stale.text and "My typed answer." in stale.text
