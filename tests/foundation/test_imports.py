"""CSV import: validate everything first, write nothing on a bad row, idempotent re-runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from callcenter.storage.engine import Database
from callcenter.storage.imports import import_csv
from callcenter.storage.tables import Customer, CustomerPhone, Department, ServiceJob, Staff

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "sample-data"
ROOT = Path(__file__).resolve().parents[2]


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _load_sample(db: Database) -> None:
    for kind in ("departments", "staff", "customers", "jobs"):
        report = await import_csv(db, kind, SAMPLE / f"{kind}.csv")  # type: ignore[arg-type]
        assert report.written, report.bad


async def test_sample_data_imports_and_a_rerun_changes_nothing(db: Database) -> None:
    await _load_sample(db)
    counts = [await _count(db, m) for m in (Department, Staff, Customer, CustomerPhone, ServiceJob)]
    assert counts == [6, 13, 8, 9, 8]
    report = await import_csv(db, "customers", SAMPLE / "customers.csv")
    assert (report.created, report.updated) == (0, 8)
    assert [await _count(db, m) for m in (Department, Staff, Customer, CustomerPhone, ServiceJob)] == counts
    async with db.sessions() as session:
        manager = await session.scalar(
            select(Staff.username).join(Department, Department.manager_id == Staff.id).where(Department.code == "SVC")
        )
        zhang = await session.scalar(
            select(Customer).join(CustomerPhone).where(CustomerPhone.e164 == "+861065881234")
        )
    assert manager == "svc-head"
    assert zhang is not None and zhang.name == "张三" and zhang.value_grade == "MVC"


BAD_CUSTOMERS = """reference,name,phones,timezone,value_grade,department
C-1,好客户,13800138000,Asia/Shanghai,MVC,
C-2,,13800138001,Asia/Shanghai,normal,
C-3,坏号码,12345,Asia/Shanghai,normal,
C-4,坏时区,13800138003,Mars/Olympus,VIP,
C-5,未知部门,13800138004,Asia/Shanghai,normal,NOPE
"""


async def test_a_file_with_bad_rows_reports_each_row_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(BAD_CUSTOMERS, encoding="utf-8")
    report = await import_csv(db, "customers", path)
    assert not report.written
    bad = {b.line: " ".join(b.reasons) for b in report.bad}
    assert sorted(bad) == [3, 4, 5, 6]
    assert "name: required" in bad[3]
    assert "phones" in bad[4]
    assert "Mars/Olympus" in bad[5] and "value_grade" in bad[5]
    assert "department: unknown 'NOPE'" in bad[6]
    assert await _count(db, Customer) == 0


async def test_skip_bad_imports_only_the_good_rows(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(BAD_CUSTOMERS, encoding="utf-8")
    report = await import_csv(db, "customers", path, skip_bad=True)
    assert report.written and report.created == 1 and report.skipped == 4
    assert await _count(db, Customer) == 1


async def test_jobs_naming_an_unknown_customer_are_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text("reference,customer,completed_at\nJ-1,C-404,2026-05-01 10:00\nJ-2,,yesterday\n", encoding="utf-8")
    report = await import_csv(db, "jobs", path)
    reasons = {b.line: " ".join(b.reasons) for b in report.bad}
    assert "unknown 'C-404'" in reasons[2]
    assert "customer: required" in reasons[3] and "completed_at" in reasons[3]
    assert await _count(db, ServiceJob) == 0


def test_cli_import_prints_bad_rows_and_exits_nonzero(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(BAD_CUSTOMERS, encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": db_url}
    result = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "import", "customers", str(path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 1
    assert "line 3:" in result.stderr and "line 6:" in result.stderr
    assert "nothing imported" in result.stderr


def test_cli_import_refuses_a_file_that_is_not_utf8(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("reference,name,phones\nC-1,张三,13800138000\n".encode("gbk"))
    env = {**os.environ, "DATABASE_URL": db_url}
    result = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "import", "customers", str(path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr
