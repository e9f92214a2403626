"""Look-ahead: does the current field's selection ask for a given field below it?

A parent that knows its children will want a relation can load it for the whole page
in one batch and hand it down; the children then resolve synchronously. That matters
because graphql-core completes every async field of a list through its own task, the
largest cost of a large answer. Only an optimization: a child that finds nothing handed
down loads for itself, so a wrong guess costs speed, never correctness.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info


def asks_for(info: Info[Any, Any], name: str) -> bool:
    raw = info._raw_info
    return any(
        node.selection_set is not None and _has(node.selection_set, name, raw.fragments, 0)
        for node in raw.field_nodes
    )


def _has(selection_set: SelectionSetNode, name: str, fragments: Any, depth: int) -> bool:
    if depth > 8:
        return False
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value == name:
                return True
            if sel.selection_set is not None and _has(sel.selection_set, name, fragments,
                                                      depth + 1):
                return True
        elif isinstance(sel, InlineFragmentNode):
            if _has(sel.selection_set, name, fragments, depth + 1):
                return True
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None and _has(frag.selection_set, name, fragments, depth + 1):
                return True
    return False
