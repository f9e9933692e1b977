"""Sidebar widgets: the registry of blocks and the pages and fragments they make up."""

from __future__ import annotations

from connector.widgets.base import Block, BlockSpec, DetailOffer, MoveAbove, RenderContext
from connector.widgets.page import (
    BLOCKS,
    render_candidates_page,
    render_message_page,
    render_search_page,
    render_sidebar_fragment,
    render_sidebar_page,
)

__all__ = [
    "BLOCKS",
    "Block",
    "BlockSpec",
    "DetailOffer",
    "MoveAbove",
    "RenderContext",
    "render_candidates_page",
    "render_message_page",
    "render_search_page",
    "render_sidebar_fragment",
    "render_sidebar_page",
]
