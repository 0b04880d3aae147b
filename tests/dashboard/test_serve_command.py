"""`scslab serve`: loopback only, no telemetry, clear errors."""

from __future__ import annotations

import socket

import pytest

from scslab.cli import main
from scslab.commands.serve import DASHBOARD, dashboard_command, port_free


def test_command_line_binds_loopback_headless_without_telemetry(tmp_path):
    cmd = dashboard_command(8123, tmp_path)
    opts = dict(zip(cmd[::1], cmd[1:], strict=False))
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(DASHBOARD)
    assert DASHBOARD.is_file()
    assert opts["--server.address"] == "127.0.0.1"
    assert opts["--server.port"] == "8123"
    assert opts["--server.headless"] == "true"
    assert opts["--browser.gatherUsageStats"] == "false"
    assert cmd[-3:] == ["--", "--runs-dir", str(tmp_path)]


def test_port_in_use_exits_2(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free(port)
        with pytest.raises(SystemExit) as e:
            main(["serve", "--port", str(port), "--runs-dir", str(tmp_path / "runs")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"port {port}" in err and len(err.strip().splitlines()) == 1


def test_bad_port_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--port", "70000"])
    assert e.value.code == 2
    assert "internal error" not in capsys.readouterr().err
