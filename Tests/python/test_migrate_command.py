"""`jules migrate` as a process, against the real PostgreSQL that scripts/test starts."""
import os
import re
import signal
import subprocess
import time

import pytest

from service_support import temporary_database

DATABASE_URL = os.environ.get("JULES_DATABASE_URL")
pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="needs JULES_DATABASE_URL (scripts/test sets it)")


@pytest.fixture
def fresh_database():
    with temporary_database(DATABASE_URL) as url:
        yield url


def migrate(jules_bin, url, *args):
    env = dict(os.environ, JULES_DATABASE_URL=url)
    return subprocess.run([jules_bin, "migrate", *args], capture_output=True, timeout=120, env=env)


def applied_versions(url):
    out = subprocess.run(
        ["psql", url, "-tAc", "SELECT version FROM schema_migrations ORDER BY version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [int(line) for line in out.split()]


def test_migrate_twice_is_a_no_op(jules_bin, fresh_database):
    first = migrate(jules_bin, fresh_database)
    assert first.returncode == 0, first.stderr
    assert b"applied 0001_households.sql" in first.stdout
    second = migrate(jules_bin, fresh_database)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == b"no pending migrations"
    status = migrate(jules_bin, fresh_database, "--status")
    assert status.returncode == 0
    assert re.search(rb"^applied \S+\t0001_households.sql$", status.stdout, re.M)


def test_status_before_migrating_lists_pending(jules_bin, fresh_database):
    status = migrate(jules_bin, fresh_database, "--status")
    assert status.returncode == 0, status.stderr
    assert b"pending\t0001_households.sql" in status.stdout


def test_two_migrations_at_once_apply_each_once(jules_bin, fresh_database):
    env = dict(os.environ, JULES_DATABASE_URL=fresh_database)
    processes = [
        subprocess.Popen([jules_bin, "migrate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    applied = b"".join(out for out, _ in outputs)
    assert applied.count(b"0001_households.sql") == 1
    versions = applied_versions(fresh_database)
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_an_edited_migration_is_refused(jules_bin, fresh_database):
    assert migrate(jules_bin, fresh_database).returncode == 0
    subprocess.run(
        ["psql", fresh_database, "-qc", "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"],
        check=True,
        capture_output=True,
    )
    result = migrate(jules_bin, fresh_database)
    assert result.returncode != 0
    assert b"0001_households.sql was changed after it was applied" in result.stderr


def serve_no_migrate(jules_bin, url, short_tmp, timeout=60):
    """Starts `jules serve --no-migrate`; returns (exit code or None if it is serving, stderr)."""
    env = dict(os.environ, JULES_DATABASE_URL=url)
    socket_path = short_tmp / "s.sock"
    process = subprocess.Popen([jules_bin, "serve", "--no-migrate", "--socket", str(socket_path)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not socket_path.exists():
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        return None, stderr
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_serve_without_migrating_refuses_a_schema_that_lacks_this_builds_migrations(jules_bin, fresh_database,
                                                                                      short_tmp):
    code, stderr = serve_no_migrate(jules_bin, fresh_database, short_tmp)
    assert code == 1, stderr
    assert b"--no-migrate" in stderr and b"jules migrate" in stderr and b"0001_households.sql" in stderr
    # Migrated by `jules migrate`, the same start serves.
    assert migrate(jules_bin, fresh_database).returncode == 0
    code, stderr = serve_no_migrate(jules_bin, fresh_database, short_tmp)
    assert code is None, stderr


def test_a_newer_migration_stops_migrate_before_it_changes_anything(jules_bin, fresh_database):
    assert migrate(jules_bin, fresh_database).returncode == 0
    subprocess.run(["psql", fresh_database, "-qc", "DELETE FROM schema_migrations WHERE version > 1"],
                   check=True, capture_output=True)
    subprocess.run(["psql", fresh_database, "-qc",
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future.sql', 'x')"],
                   check=True, capture_output=True)
    result = migrate(jules_bin, fresh_database)
    assert result.returncode != 0
    assert b"9999_future.sql" in result.stderr
    assert applied_versions(fresh_database) == [1, 9999], "nothing was applied before the refusal"
