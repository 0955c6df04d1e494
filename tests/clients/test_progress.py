"""The client's own progress bar: live on a terminal, one final line elsewhere."""

from __future__ import annotations

import io

from clients.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_moves():
    screen = Terminal()
    progress = Progress(4, stream=screen, width=8)
    for _ in range(4):
        progress.advance()
    progress.close()
    assert screen.getvalue().count("\r") == 5
    assert "[##......] 1/4" in screen.getvalue() and "[########] 4/4" in screen.getvalue()


def test_in_a_log_only_the_final_state_is_written():
    log = io.StringIO()
    progress = Progress(3, stream=log, width=3)
    for _ in range(3):
        progress.advance()
        progress.clear()
    progress.close()
    assert log.getvalue().count("/3") == 1 and "[###] 3/3" in log.getvalue()


def test_a_single_item_shows_no_bar():
    log = Terminal()
    progress = Progress(1, stream=log)
    progress.advance()
    progress.close()
    assert log.getvalue() == ""
