"""`keylink dev` keeps the ports it chose at its first run on a state directory, so that
bookmarks, front-end configs and devices keep working when the default port is taken."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.dev import kept_port
from api.embedded import LOCALHOST


@contextmanager
def held(port: int = 0) -> Iterator[int]:
    """A port someone else listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, port))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_the_port_chosen_at_the_first_run_is_kept(tmp_path: Path) -> None:
    said: list[str] = []
    with held() as taken:
        first = kept_port(tmp_path, "api", taken, said.append)
        assert first != taken
        assert said == [f"  Port {taken} is taken: the API is on {first}, and keeps it at "
                        "the next runs."]
        # The next runs, the wanted port still taken or not: the same port, nothing said.
        said.clear()
        assert kept_port(tmp_path, "api", taken, said.append) == first
    assert kept_port(tmp_path, "api", taken, said.append) == first
    assert said == []
    assert json.loads((tmp_path / "ports.json").read_text()) == {
        "api": {"wanted": taken, "port": first}}


def test_a_kept_port_that_is_taken_is_replaced_for_one_run_and_said(tmp_path: Path) -> None:
    said: list[str] = []
    with held() as wanted_but_busy:
        first = kept_port(tmp_path, "api", wanted_but_busy, said.append)
    said.clear()
    with held(first):
        now = kept_port(tmp_path, "api", wanted_but_busy, said.append)
        assert now != first
        assert said == [f"  Port {first}, where the API listened before, is taken: the API "
                        f"is on {now} for this run (it goes back to {first} once that is "
                        "free)."]
    assert kept_port(tmp_path, "api", wanted_but_busy, said.append) == first


def test_each_service_keeps_its_own_and_a_new_wish_starts_afresh(tmp_path: Path) -> None:
    with held() as a, held() as b:
        api = kept_port(tmp_path, "api", a, print)
        mqtt = kept_port(tmp_path, "mqtt", b, print)
    assert kept_port(tmp_path, "api", a, print) == api
    assert kept_port(tmp_path, "mqtt", b, print) == mqtt
    # Another KEYLINK_PORT is taken as asked for when it is free.
    with held() as other:
        pass
    assert kept_port(tmp_path, "api", other, print) == other
    assert kept_port(tmp_path, "api", other, print) == other


def test_a_wanted_port_that_is_free_is_kept_too(tmp_path: Path) -> None:
    with held() as free:
        pass
    assert kept_port(tmp_path, "api", free, print) == free
    with held(free):
        said: list[str] = []
        assert kept_port(tmp_path, "api", free, said.append) != free
        assert "where the API listened before, is taken" in said[0]
