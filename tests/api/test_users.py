"""The create-user / disable-user CLI: in-process and as the real ``flask`` command."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from tests.api.helpers import assert_error
from tests.helpers import ROOT, query


def _users(db):
    return query(db, "SELECT username, active, password_hash FROM api_users ORDER BY id")


def test_create_user_from_stdin_then_login(db, app, client):
    result = app.test_cli_runner().invoke(args=["create-user", "alice"], input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "created user alice" in result.output
    [(name, active, password_hash)] = _users(db)
    assert (name, active) == ("alice", True) and "s3cret-pass" not in password_hash
    assert client.post("/api/v1/auth/login", json={"username": "alice", "password": "s3cret-pass"}).status_code == 200
    assert_error(client.post("/api/v1/auth/login", json={"username": "alice", "password": "s3cret-pass\n"}), 401)


def test_create_user_refusals(db, app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-user", "bob"], input="long enough\n").exit_code == 0
    for args, password, message in [
        (["create-user", "bob"], "another one\n", "already exists"),
        (["create-user", "carol"], "short\n", "at least 8"),
        (["create-user", "carol"], "", "at least 8"),
        (["create-user", "bad name!"], "long enough\n", "invalid user name"),
        (["create-user"], "long enough\n", "Missing argument"),
    ]:
        result = runner.invoke(args=args, input=password)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    assert [row[0] for row in _users(db)] == ["bob"]


def test_disable_user(db, app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "dave"], input="long enough\n")
    result = runner.invoke(args=["disable-user", "dave"])
    assert result.exit_code == 0 and "disabled user dave" in result.output
    assert _users(db)[0][1] is False
    result = runner.invoke(args=["disable-user", "nobody"])
    assert result.exit_code == 1 and "no user 'nobody'" in result.output


def test_flask_command_reads_password_from_stdin(db, db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "API_DATABASE_URL": db_url, "API_ENV": "development"}
    env.pop("JWT_SECRET_KEY", None)
    command = [sys.executable, "-m", "flask", "--app", "api"]
    created = subprocess.run([*command, "create-user", "erin"], input="piped password\n", env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    assert _users(db)[0][:2] == ("erin", True)
    disabled = subprocess.run([*command, "disable-user", "erin"], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert disabled.returncode == 0, disabled.stderr
    assert _users(db)[0][:2] == ("erin", False)


def test_create_user_prompts_on_a_terminal(db, db_url):
    """On a terminal the password is asked twice, hidden."""
    env = {**os.environ, "DATABASE_URL": db_url, "API_DATABASE_URL": db_url, "API_ENV": "development"}
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "api", "create-user", "frank"],
                               stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    seen = b""

    def answer_after(prompt: bytes, text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while prompt not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 1024)
        seen = seen.split(prompt, 1)[1]
        os.write(master, text)

    try:
        answer_after(b"Password:", b"typed password\n")
        answer_after(b"Repeat for confirmation:", b"typed password\n")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(master)
    assert _users(db)[0][:2] == ("frank", True)
    assert b"typed password" not in seen  # not echoed
