"""A footer that rebuilds its keys only while its screen is the top one."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class ActiveScreenFooter(Footer):
    """Textual's Footer, minus the rebuilds while another screen is on top.

    Textual's Footer removes and mounts all its keys whenever the bindings of
    its screen change, and pushing or popping any screen changes them. For
    the screen below a newly pushed one, that work ran right after the new
    screen's first paint and held up its next one. This footer keeps its
    keys while its screen is not the top one. It rebuilds them when its
    screen is the top one again, because that changes the bindings once more.
    """

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen.app.screen is not screen:
            return
        super().bindings_changed(screen)
