"""The demo: 区长在线, modelled on the column's original page.

Episode No. 32 is live now (a deputy district head, a two-hour window); No. 33
is announced for next week; No. 31 took place last week, 19:00-21:00, staged
on that evening (:func:`live.events.staged_clock`), so replay plays an hour of
questions and answers and the transcript shows when each came. Its aftermath (有问必答) is
done at start-up, as staff would do it days later: a question declined with a reason, one
forwarded and made a commitment (so the programme's board has an entry), one not reached
and carried over into the next scheduled episode (No. 33), a rating, and the episode
archived with every question given an outcome. Names are fictional.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .auth import Actor, Role
from .events import staged_clock
from .protocol import Command
from .services import Services
from .store import sqlite_file
from .store.sqlite import unheld

TZ = ZoneInfo("Asia/Shanghai")
MARK = "demo"
"""The ``meta`` key that says ``live demo`` made this database, and so may replace it."""

GUEST = {"guest_name": "李明", "guest_post": "区人民政府副区长"}

OPENING = (
    "各位网友，大家晚上好！欢迎收看本期《区长在线》。今晚我们请到了副区长，与大家交流教育、交通与营商环境方面的问题，"
    "欢迎大家踊跃提问。"
)
CLOSING = (
    "由于时间关系，本期访谈到此结束。没来得及回答的问题，我们会在会后书面答复。感谢各位网友的参与，下期再见！"
)
"""The host's (主持人) opening and closing words on last week's evening (live/studio.py)."""
PAST_QUESTIONS = [
    (
        "老城区停车难，晚上下班回家经常找不到车位，区里有没有增加停车位的计划？",
        "市民王先生",
        "感谢您的提问。今年区里将结合老旧小区改造新增公共停车泊位1200个，并推动机关单位停车场夜间向周边居民错时开放，第一批12家单位下月起试行。",
    ),
    (
        "孩子明年上小学，学区划分什么时候公布？",
        "一位家长",
        "今年的学区划分方案将于4月底在区教育局网站和微信公众号公布，公布前会征求社区和家长代表意见。",
    ),
    (
        "Is there an English service line for foreign residents?",
        "Anna",
        "Yes. The 12345 hotline offers English service from 9:00 to 17:00 on working days.",
    ),
]

NOT_TAKEN = ("我家楼上天天半夜装修，物业也不管，能帮我处理一下吗？", "一位居民")
FORWARDED = ("学校门口的人行横道线已经看不清了，什么时候重新画？", "赵女士")
NOT_REACHED = ("夜市什么时候恢复营业？", "小陈")

LIVE_QUESTIONS = [
    (
        "我想在线向区长提问，不知道如何操作，请指教，谢谢！",
        "网友",
        "欢迎参与！在本页面下方的提问框写下问题，点击“提交问题”即可；工作人员审核后问题会公开显示，副区长会在线逐一解答。提交后会得到一个回执编号，凭它可以随时查询处理结果。",
    ),
    ("小区门口的道路施工已经三个月了，什么时候能完工？", "亭湖居民", None),
    ("区里对小微企业有哪些减税降费的新政策？", "个体户小张", None),
]


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


EXAMPLE_WORDS = Path(__file__).parent / "data" / "blocked-words.example.txt"


def reset(db: str) -> None:
    """Delete the demo database at ``db`` so the demo starts afresh, or refuse in one line.

    Only a SQLite file that ``live demo`` made (it carries :data:`MARK`) is
    ever deleted, and never while a server has it open: every open store
    holds a shared lock on its file (:func:`live.store.sqlite.hold`), and this
    takes it exclusively first. Anything else, a production database above all,
    is left exactly as it was.
    """
    path = sqlite_file(db)
    if path is None:
        raise SystemExit(
            "live demo: --db postgresql://… is not a SQLite file; the demo only runs on a "
            "file of its own (use live serve for a real database)"
        )
    if path == ":memory:":
        return
    try:
        with unheld(path, "live demo", "or give the demo another file with --db"):
            if not _is_demo(path):
                raise SystemExit(
                    f"live demo: {path} was not made by live demo, so it is left alone; "
                    "give the demo a new file with --db"
                )
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
    except FileNotFoundError:
        for suffix in ("-wal", "-shm"):  # a crashed demo's leftovers would be replayed into a new file
            Path(path + suffix).unlink(missing_ok=True)


def _is_demo(path: str) -> bool:
    """Whether ``path`` is a SQLite database whose ``meta`` says the demo made it."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (MARK,)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


async def seed(live: Services) -> dict[str, dict[str, str]]:
    """Create the demo programme and episodes; return each episode's staff links."""
    now = datetime.now(TZ).replace(second=0, microsecond=0)
    lines = EXAMPLE_WORDS.read_text(encoding="utf-8").splitlines()
    await live.set_words([w for w in lines if w.strip() and not w.startswith("#")])
    pid = await live.programmes.create(
        "qzzx",
        "区长在线",
        "区政府领导每周在线解答市民提问。请在直播时段内提交问题，经审核后公开并由嘉宾在线解答。",
    )
    last_week = (now - timedelta(days=7)).replace(hour=19, minute=0)
    links = {"31": await _past_episode(live, pid, 31, last_week, "教育、交通与营商环境")}
    live_now, links["32"] = await _episode(live, pid, 32, now - timedelta(minutes=30), "城市管理与民生实事")
    await _questions(live, live_now, LIVE_QUESTIONS)
    _, links["33"] = await _episode(live, pid, 33, now + timedelta(days=7), "乡村振兴与农业发展")
    await _aftermath(live, int(links["31"]["id"]), now)
    return links


async def _episode(
    live: Services, pid: int, episode: int, start: datetime, topic: str
) -> tuple[int, dict[str, str]]:
    row, tokens = await live.sessions.create(
        pid,
        {
            "episode": episode,
            "title": f"区长在线 第{episode}期：{topic}",
            "starts_at": _iso(start),
            "ends_at": _iso(start + timedelta(hours=2)),
            "description": f"本期主题：{topic}。欢迎广大市民在线提问。",
            **GUEST,
        },
    )
    return row.id, {"id": str(row.id), **tokens}


async def _past_episode(
    live: Services, pid: int, episode: int, start: datetime, topic: str
) -> dict[str, str]:
    """Last week's episode, staged on its own evening: announced three days ahead, then
    each question asked, approved and answered at its minute, so that replay plays a
    real evening and the transcript shows when each answer came."""
    moment = [(start - timedelta(days=3)).timestamp()]
    with staged_clock(lambda: moment[0]):
        sid, links = await _episode(live, pid, episode, start, topic)
        minutes = iter(range(3, 120, 6))

        def tick() -> None:
            moment[0] = (start + timedelta(minutes=next(minutes))).timestamp()

        host = Actor(Role.HOST, "demo-host")
        moment[0] = (start + timedelta(minutes=1)).timestamp()
        await live.sessions.handle(sid, host, Command("remark", {"text": OPENING}))
        await _questions(live, sid, PAST_QUESTIONS, tick, host=host)
        for text, name in (NOT_TAKEN, FORWARDED, NOT_REACHED):
            tick()
            await _ask(live, sid, text, name)
        tick()
        await live.sessions.handle(sid, host, Command("remark", {"text": CLOSING}))
    return links


async def _aftermath(live: Services, session_id: int, now: datetime) -> None:
    """Every question of the past episode given an outcome, then the episode archived."""
    staff = Actor(Role.ADMIN, "demo-staff")

    async def run(kind: str, **args: object) -> None:
        await live.sessions.handle(session_id, staff, Command(kind, dict(args)))

    ids = {text: i for i, (text, *_) in enumerate([*PAST_QUESTIONS, NOT_TAKEN, FORWARDED, NOT_REACHED], 1)}
    note = "请拨打 12345 热线或联系所在街道，由属地部门上门核实处理。"
    await run("reject", question_id=ids[NOT_TAKEN[0]], reason="personal_case", note=note)
    crossing = ids[FORWARDED[0]]
    await run("approve", question_id=crossing)
    await run("forward", question_id=crossing, department="区交通运输局", note="十个工作日内答复")
    due = (now + timedelta(days=14)).date().isoformat()
    await run(
        "commitment",
        question_id=crossing,
        department="区交通运输局",
        promise="重新施划学校门口人行横道线",
        due=due,
    )
    await run("approve", question_id=ids[NOT_REACHED[0]])
    await run("carry_over")
    asker = Actor(Role.VIEWER, "demo-viewer-0")
    await live.sessions.handle(
        session_id, asker, Command("rate", {"question_id": 1, "level": "satisfied", "comment": "讲得很清楚"})
    )
    await run("archive")


async def _questions(
    live: Services,
    session_id: int,
    items: Sequence[tuple[str, str, str | None]],
    tick: Callable[[], None] = lambda: None,
    host: Actor | None = None,
) -> None:
    """Each item asked, approved and answered; ``tick`` moves a staged clock before each step.
    With a ``host``, the host reads each question out (``announce``) before it is answered."""
    admin = Actor(Role.ADMIN, "demo-staff")
    for text, name, answer in items:
        tick()
        qid = await _ask(live, session_id, text, name)
        tick()
        await live.sessions.handle(session_id, admin, Command("approve", {"question_id": qid}))
        if answer and host is not None:
            tick()
            await live.sessions.handle(session_id, host, Command("announce", {"question_id": qid}))
        if answer:
            tick()
            await live.sessions.handle(
                session_id, admin, Command("answer", {"question_id": qid, "text": answer})
            )


async def _ask(live: Services, session_id: int, text: str, name: str) -> int:
    """Ask as a citizen on a device of their own (``demo-viewer-<n>``, n the question's id)."""
    state = await (await live.rooms.get(session_id)).settled()
    viewer = Actor(Role.VIEWER, f"demo-viewer-{len(state.questions)}")
    ack = await live.sessions.handle(
        session_id, viewer, Command("ask", {"client_id": str(uuid.uuid4()), "text": text, "name": name})
    )
    return int(ack["question_id"])
