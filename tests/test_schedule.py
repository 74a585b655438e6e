"""预约 (issue 21): an episode's .ics read by a real iCalendar parser, and the programme's feed.

From a real server: the calendar file of an upcoming episode parsed with ``icalendar`` (its
start in Asia/Shanghai with that TZID and a VTIMEZONE, its summary, a UID that stays the same
from one download to the next), and the programme's Atom feed of episodes parsed with
``xml.etree``, one entry per episode.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import httpx
import icalendar
import pytest

from .conftest import TIMEOUT, TZ, LiveServer

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
ATOM = "{http://www.w3.org/2005/Atom}"


def get(srv: LiveServer, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{srv.http}{path}", params=params, timeout=TIMEOUT)


def event_of(body: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    [event] = cal.walk("VEVENT")
    return cal, event


async def test_an_episode_goes_into_a_calendar_and_the_programme_has_a_feed(server: LiveServer) -> None:
    start = (datetime.now(TZ) + timedelta(days=3)).replace(hour=19, minute=30, second=0, microsecond=0)
    now_on = server.create_session(episode=32, title="区长在线 第32期")
    nxt = server.create_session(
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(minutes=90)).isoformat(),
        episode=33,
        title="交通出行专场",
        guest_name="王强",
        guest_post="区交通局局长",
        description="公交线网、停车和学校周边交通",
    )
    sid = nxt["id"]
    first, again = get(server, f"/s/{sid}/calendar.ics"), get(server, f"/s/{sid}/calendar.ics")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/calendar")
    assert first.headers["content-disposition"].startswith("attachment")
    cal, event = event_of(first.content)
    _, event_again = event_of(again.content)
    page = f"{server.http}/s/{sid}"
    begins = event.decoded("dtstart")
    assert begins == start and begins.utcoffset() == timedelta(hours=8)
    assert (
        event["dtstart"].params["TZID"] == "Asia/Shanghai"
        and getattr(begins.tzinfo, "key", "") == "Asia/Shanghai"
    )
    assert event.decoded("dtend") == start + timedelta(minutes=90)
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(event["summary"]) == "区长在线 · 第33期 · 交通出行专场"
    assert str(event["uid"]) == str(event_again["uid"]), "the same episode keeps its UID"
    _, other = event_of(get(server, f"/s/{now_on['id']}/calendar.ics").content)
    assert str(other["uid"]) != str(event["uid"])
    assert str(other["summary"]) == "区长在线 第32期", (
        "a title that names programme and episode keeps them once"
    )
    described = str(event["description"])
    assert "王强 区交通局局长" in described and page in described
    assert str(event["url"]) == page
    assert [str(a["action"]) for a in event.walk("VALARM")] == ["DISPLAY"], "a reminder before it starts"
    missing = get(server, "/s/999999/calendar.ics")
    assert (missing.status_code, missing.json()["code"]) == (404, "session_not_found")

    atom = get(server, "/p/qzzx/episodes.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(atom.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [page, f"{server.http}/s/{now_on['id']}"]
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "区长在线 · 第33期 · 交通出行专场",
        "区长在线 第32期",
    ]
    assert entries[0].find(f"{ATOM}link").get("href") == page  # type: ignore[union-attr]
    assert f"{page}/calendar.ics" in (entries[0].findtext(f"{ATOM}content") or "")
    assert datetime.fromisoformat(entries[0].findtext(f"{ATOM}updated") or "") == start
    english = ET.fromstring(get(server, "/p/qzzx/episodes.atom", lang="en").content)
    assert english.findtext(f"{ATOM}title") == "区长在线 · Episodes"
    nope = get(server, "/p/nope/episodes.atom")
    assert (nope.status_code, nope.json()["code"]) == (404, "programme_not_found")
    listing = get(server, "/api/sessions").json()
    assert abs(listing["now"] - datetime.now(TZ).timestamp() * 1000) < 60_000, (
        "the server's clock, for countdowns"
    )
