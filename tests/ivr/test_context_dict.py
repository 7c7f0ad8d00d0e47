"""`CallerContext.to_dict` is written by hand (it runs on every turn): it must stay complete."""

from __future__ import annotations

from dataclasses import asdict, fields

from ivr.events import CallerContext


def test_the_hand_written_dict_has_every_field_and_round_trips() -> None:
    context = CallerContext(caller_known=True, customer_tz="America/New_York", language="en",
                            last_job_reference="J-1", last_job_id=7, agents_open=False,
                            local_now_iso="2026-05-18T10:00:00+08:00", outbound={"job": "J-1"})
    assert context.to_dict() == asdict(context)
    assert set(context.to_dict()) == {f.name for f in fields(CallerContext)}
    assert CallerContext.from_dict(context.to_dict()) == context
    assert context.to_dict()["outbound"] is not context.outbound  # a copy, not the same dict
