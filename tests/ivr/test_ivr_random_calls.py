"""Whatever callers and back offices do, the call never raises and always
ends on a safe path: a Transfer, a Hangup, or another Gather/Record."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr import actions as act
from ivr import events as ev
from ivr import render_agi
from ivr.hotline import HOTLINE
from ivr.render_twiml import render
from ivr.session import Session

contexts = st.builds(
    ev.CallerContext,
    caller_known=st.booleans(),
    language=st.sampled_from(["zh-CN", "en", "fr", ""]),
    agents_open=st.booleans(),
    local_now_iso=st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=5)),
)
keys = st.text(alphabet="0123456789*#", max_size=4)
events = st.one_of(
    keys.map(ev.Digits),
    st.just(ev.Timeout()),
    st.text(max_size=6).map(ev.Speech),
    st.builds(ev.RecordingDone, st.sampled_from(["", "https://rec/1"]), st.integers(-1, 200)),
    st.just(ev.Hangup()),
    st.text(max_size=4).map(ev.ComplaintCreated),
    st.builds(
        ev.JobLookup,
        st.booleans(),
        st.one_of(st.none(), st.integers(1, 9)),
        st.one_of(st.none(), keys),
    ),
    st.integers(1, 9).map(ev.SurveySaved),
    st.builds(ev.CallbackScheduled, st.integers(1, 9), st.just("")),
    st.builds(
        ev.EffectFailed,
        st.sampled_from(
            ["CreateComplaint", "LookupJob", "SaveSurvey", "ScheduleCallback", "Nonsense"]
        ),
    ),
)


def _safe(session: Session, last_media: act.Action | None, hung_up: bool) -> bool:
    if session.ended:
        return hung_up or isinstance(last_media, act.Transfer | act.Hangup)
    if session.waiting_for is not None:
        return True
    return isinstance(last_media, act.Gather | act.Record)


@settings(max_examples=300, deadline=None)
@given(context=contexts, script=st.lists(events, max_size=40), through_json=st.booleans())
def test_random_calls_never_raise_and_stay_on_a_safe_path(
    context: ev.CallerContext, script: list[ev.Event], through_json: bool
) -> None:
    session = Session(HOTLINE)
    last_media: act.Action | None = None
    hung_up = False
    actions: list[act.Action] = []
    for event in [ev.Start(context), *script]:
        was_ended = session.ended
        out = session.handle(event)
        hung_up = hung_up or (isinstance(event, ev.Hangup) and not was_ended)
        media = [a for a in out if isinstance(a, act.MEDIA_ACTIONS)]
        last_media = media[-1] if media else last_media
        actions += out
        ET.fromstring(render(out, language=session.language, action_url="a", recording_url="r"))
        render_agi.plan(out, language=session.language)
        assert _safe(session, last_media, hung_up), (event, out)
        if through_json:
            session = Session.from_json(HOTLINE, session.to_json())
    steps = [a for a in actions if isinstance(a, act.Step)]
    categories_chosen = [
        s for s in steps if (s.node, s.outcome) == ("complaint_category", "selected")
    ]
    jobs_found = [s for s in steps if s.node.startswith("survey_lookup") and s.outcome == "done"]
    assert sum(isinstance(a, act.CreateComplaint) for a in actions) <= len(categories_chosen)
    assert sum(isinstance(a, act.SaveSurvey) for a in actions) <= len(jobs_found)


@settings(max_examples=200, deadline=None)
@given(script=st.lists(events, max_size=30))
def test_a_hangup_after_anything_leaves_nothing_unsent(script: list[ev.Event]) -> None:
    session = Session(HOTLINE)
    context = ev.CallerContext(agents_open=True, local_now_iso="2024-05-06T10:00:00")
    actions = session.handle(ev.Start(context))
    for event in script:
        actions += session.handle(event)
    actions += session.handle(ev.Hangup())
    assert session.ended and session.handle(ev.Hangup()) == []
    slots = session.slots
    if slots.get("category") is not None:
        complaints = [a for a in actions if isinstance(a, act.CreateComplaint)]
        assert complaints and complaints[-1].category == slots["category"]
    grades = {k: v for k, v in slots.items() if k.startswith("grade_")}
    if grades and slots.get("job_id") is not None:
        surveys = [a for a in actions if isinstance(a, act.SaveSurvey)]
        assert surveys and {f"grade_{k}": v for k, v in surveys[-1].grades.items()} == grades
