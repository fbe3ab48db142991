"""Web chat admission: server-issued chat cookies, and a proof of work for new chats instead of one
budget that a single client could spend for everyone."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import bot.webchat as webchat
from bot.admission import Admission, leading_zero_bits, proof_for, solve
from intake.models import DialogSession
from phananh.web import create_app
from tests.chat import chat_post


@pytest.fixture()
def app(db: Session) -> Any:
    webchat.pace.clear()
    webchat.reset_admission()
    yield create_app()
    webchat.pace.clear()
    webchat.reset_admission()


def _with_cookie(app: Any, value: str) -> TestClient:
    """A client that sends a chat cookie of its own choosing (as the server would have set it)."""
    client = TestClient(app)
    client.cookies.set(webchat.COOKIE, value, domain="testserver.local")
    return client


def _start(client: TestClient) -> list[dict[str, Any]]:
    response = chat_post(client, resume=True)
    assert response.status_code == 200 and "challenge" not in response.json()
    return response.json()["replies"]  # type: ignore[no-any-return]


def test_a_made_up_cookie_is_replaced_and_never_adopted(app: Any, db: Session) -> None:
    """A client that names its own chat gets a puzzle and then a cookie of the server's, not its own value."""
    made_up = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    victim = _with_cookie(app, made_up)
    answer = victim.post("/api/chat", json={"resume": True}).json()
    assert answer["challenge"] and answer["replies"] == []
    assert not db.exec(select(DialogSession)).all(), "nothing stepped before the proof"
    _start(victim)
    chat_post(victim, button="menu:report")
    chat_post(victim, button="mode:confidential")
    issued = victim.cookies.get(webchat.COOKIE)
    assert issued and issued != made_up and Admission.chat_from_cookie(issued) is not None
    # The attacker who planted the value holds nothing: the same value gets a fresh puzzle, not the draft.
    attacker = _with_cookie(app, made_up)
    assert "challenge" in attacker.post("/api/chat", json={"resume": True}).json()


def test_a_cookie_with_a_forged_signature_is_replaced(app: Any) -> None:
    """The right shape with a wrong MAC (or another chat's MAC) is not a chat."""
    real = TestClient(app)
    _start(real)
    chat_id, _mac = str(real.cookies.get(webchat.COOKIE)).split(".")
    for forged in (f"{chat_id}.{'0' * 32}", f"{'B' * 24}.{_mac}", chat_id):
        assert Admission.chat_from_cookie(forged) is None
        other = _with_cookie(app, forged)
        assert "challenge" in other.post("/api/chat", json={"resume": True}).json()


def test_a_wrong_expired_or_tampered_answer_starts_no_chat(app: Any) -> None:
    """Only a right nonce for an untouched, unexpired puzzle of ours opens a chat."""
    gate = Admission(base_bits=8, new_per_minute=60)
    puzzle = gate.challenge(now=1000.0)
    nonce = solve(puzzle.text, puzzle.bits)
    wrong = next(n for n in range(10**6) if leading_zero_bits(hashlib.sha256(f"{puzzle.text}:{n}".encode()).digest()) < puzzle.bits)
    assert gate.redeem(puzzle.text, str(wrong), now=1001.0) is None
    assert gate.redeem(puzzle.text, str(nonce), now=1000.0 + 301) is None, "expired after five minutes"
    easier = puzzle.text.replace(".8.", ".0.", 1)
    assert gate.redeem(easier, "0", now=1001.0) is None, "the bits are under the MAC"
    assert gate.redeem(puzzle.text, "not-a-number", now=1001.0) is None
    assert gate.redeem(puzzle.text, str(nonce), now=1001.0) == puzzle.text.split(".")[0]


def test_replaying_a_solved_puzzle_gives_the_same_chat_not_a_new_one(app: Any) -> None:
    """The chat id is the puzzle's own id: one solution cannot be spent on many chats."""
    first = TestClient(app)
    answer = first.post("/api/chat", json={"resume": True}).json()
    proof = proof_for(answer)
    first.post("/api/chat", json={"resume": True, "proof": proof})
    second = TestClient(app)
    second.post("/api/chat", json={"resume": True, "proof": proof})
    assert first.cookies.get(webchat.COOKIE) == second.cookies.get(webchat.COOKIE)


def test_the_work_doubles_with_each_doubling_of_new_chats_and_settles_after_a_minute() -> None:
    """At the set rate the base difficulty; one more bit per doubling over it, capped; back to base a minute later."""
    gate = Admission(base_bits=2, new_per_minute=10, max_extra_bits=3)
    seen = []
    for i in range(200):
        now = 1000.0 + i * 0.1
        puzzle = gate.challenge(now=now)
        assert gate.redeem(puzzle.text, str(solve(puzzle.text, puzzle.bits)), now=now)
        seen.append(puzzle.bits)
    assert seen[:10] == [2] * 10 and seen[10] == 2  # rate 10, 11: ceil(log2(11/10)) = 1 from the 12th
    assert seen[11] == 3 and max(seen) == 5, seen
    assert gate.required_bits(now=1000.0 + 200 * 0.1 + 61) == 2


def test_new_chats_are_counted_once_for_all_servers(app: Any) -> None:
    """Two servers' gates on one limiter see each other's new chats: the puzzle hardens for both."""
    from bot.admission import SharedArrivals
    from intake.ratelimit import get_limiter

    one, two = (Admission(base_bits=2, new_per_minute=10, arrivals=SharedArrivals(get_limiter(), 10 * 64 + 1)) for _ in range(2))
    one.reset()
    for _ in range(21):
        puzzle = one.challenge()
        assert one.redeem(puzzle.text, str(solve(puzzle.text, puzzle.bits)))
    assert two.required_bits() == 2 + 2, "21 a minute over a rate of 10: two doublings, seen by the other server"
    one.reset()


def test_a_flood_of_new_chats_never_closes_the_chat_to_residents(app: Any, db: Session) -> None:
    """The attack seen: /trogiup floods with a fresh cookie every 25 messages. The resident already
    chatting is never refused, and a new resident still gets in (with a harder puzzle)."""
    webchat._admission = Admission(base_bits=8, new_per_minute=20)  # a deployment that expects 20 new chats a minute
    resident = TestClient(app)
    _start(resident)
    chat_post(resident, button="menu:report")
    base = webchat.admission().required_bits()
    sent = 0
    for _ in range(52):  # 1,300 messages, as in the attack
        flooder = TestClient(app)
        for _ in range(25):
            assert chat_post(flooder, text="/trogiup").status_code == 200
            sent += 1
    assert sent == 1300
    assert webchat.admission().required_bits() > base, "new chats pay more while they arrive fast"
    answer = chat_post(resident, button="mode:anonymous")
    assert answer.status_code == 200 and answer.json()["replies"], "the chat already open is not starved"
    newcomer = TestClient(app)
    puzzle = newcomer.post("/api/chat", json={"resume": True}).json()
    assert puzzle["bits"] > base
    assert _start(newcomer), "a new resident still gets in"


async def test_telegram_and_zalo_residents_are_unaffected_by_web_chat_pressure(app: Any, db: Session) -> None:
    """Web chats at their limits and new chats at the hardest puzzle leave Telegram's and Zalo's conversations as they were."""
    from tests.bot.test_telegram import Harness as TelegramHarness
    from tests.bot.test_telegram import telegram_settings
    from tests.bot.test_zalo import FakeZalo, zalo_settings
    from tests.bot.test_zalo import Harness as ZaloHarness

    flooder = TestClient(app)
    for _ in range(40):
        chat_post(flooder, text="/trogiup")
    assert flooder.post("/api/chat", json={"text": "/trogiup"}).status_code == 429
    gate = webchat.admission()
    gate.arrivals.add(time.time(), gate.new_per_minute * 2**gate.max_extra_bits)  # new chats at 64 times the set rate
    assert gate.required_bits() == gate.base_bits + gate.max_extra_bits

    tg = TelegramHarness(telegram_settings())
    try:
        await tg.deliver(tg.resident.text("/start"))
        await tg.deliver(tg.resident.press("menu:report"))
        assert len(tg.texts()) == 2 and "Mặt trận" in tg.texts()[0]
    finally:
        await tg.channel.shutdown()
    fake = FakeZalo()
    zalo = ZaloHarness(zalo_settings(fake), fake)
    try:
        texts = await zalo.say("xin chào")
        assert texts and "Mặt trận" in texts[0]
    finally:
        await zalo.close()


@pytest.mark.parametrize("shared", [False, True], ids=["one server", "shared limiter"])
def test_replaying_a_solution_does_not_raise_the_difficulty_for_everyone(app: Any, shared: bool) -> None:
    """Seen: one solved puzzle replayed 2,400 times with the cookie dropped (no hashing at all) took every new
    resident's puzzle from 14 to 20 bits. A replay reopens the same chat and counts as no new arrival, on
    every server of the deployment."""
    from bot.admission import SharedArrivals
    from intake.ratelimit import get_limiter

    def gate() -> Admission:
        arrivals = SharedArrivals(get_limiter(), 10 * 64 + 1) if shared else None
        return Admission(base_bits=2, new_per_minute=10, arrivals=arrivals)

    one = gate()
    two = gate() if shared else one
    one.reset()
    puzzle = one.challenge()
    nonce = str(solve(puzzle.text, puzzle.bits))
    ids = {server.redeem(puzzle.text, nonce) for _ in range(200) for server in (one, two)}
    assert len(ids) == 1 and None not in ids
    assert one.arrivals.count(time.time()) == 1
    assert one.required_bits() == two.required_bits() == 2
    one.reset()
