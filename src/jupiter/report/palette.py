"""Colours for report.html's drawings: one per node, or one per region when there are too many
nodes to tell apart, so that a 200-task DAG still has a handful of colours, never one a task.

The first colours are Kelly's 22 of maximum contrast (K. Kelly, "Twenty-two colors for
maximum contrast", Color Engineering 3(6), 1965) without white and black, which a white page
and black text already use, in his order: each next one is the most distinct from those
before. Past them (more than 20 regions), colours step round the hue circle by the golden
angle and through three lightnesses: still distinct strings, though no longer far apart.
"""

from __future__ import annotations

import colorsys
import html
from dataclasses import dataclass
from typing import Literal

from jupiter.report.model import Report

KELLY = (
    "#f3c300",  # vivid yellow
    "#875692",  # strong purple
    "#f38400",  # vivid orange
    "#a1caf1",  # very light blue
    "#be0032",  # vivid red
    "#c2b280",  # grayish yellow
    "#848482",  # medium gray
    "#008856",  # vivid green
    "#e68fac",  # strong purplish pink
    "#0067a5",  # strong blue
    "#f99379",  # strong yellowish pink
    "#604e97",  # strong violet
    "#f6a600",  # vivid orange yellow
    "#b3446c",  # strong purplish red
    "#dcd300",  # vivid greenish yellow
    "#882d17",  # strong reddish brown
    "#8db600",  # vivid yellowish green
    "#654522",  # deep yellowish brown
    "#e25822",  # reddish orange
    "#2b3d26",  # dark olive green
)
# Up to this many nodes each has its own colour; past it nodes share their region's. Twelve
# is where Kelly's colours are still far apart at a glance.
MAX_NODE_COLOURS = 12
# Nodes the run did not use: paler than any colour above.
UNUSED = "#e4e4e4"


def colour(index: int) -> str:
    """The index-th colour: Kelly's, then golden-angle hues (distinct for any index)."""
    if index < len(KELLY):
        return KELLY[index]
    extra = index - len(KELLY)
    hue = (extra * 0.381966) % 1.0
    lightness = (0.45, 0.62, 0.32)[(extra // 7) % 3]
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.65)
    text = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
    # Rounding can land on a Kelly colour or an earlier step: nudge the blue channel.
    return text if text not in KELLY else text[:-2] + f"{(round(blue * 255) + 1) % 256:02x}"


@dataclass(frozen=True)
class Group:
    """Nodes drawn in one colour: one node, or every node of a region."""

    key: str
    colour: str
    nodes: tuple[str, ...]
    # The nodes the run did not use, listed in the legend under one grey.
    unused: bool = False


@dataclass(frozen=True)
class Colouring:
    by: Literal["node", "region"]
    groups: tuple[Group, ...]

    def of(self, node: str) -> str:
        """The colour of a node; grey for one the report's node list does not have."""
        for group in self.groups:
            if node in group.nodes:
                return group.colour
        return "#999999"

    def legend(self) -> str:
        """An HTML list that wraps to the page's width: each node named once."""
        items = []
        for group in self.groups:
            members = ", ".join(group.nodes)
            single = self.by == "node" and not group.unused
            label = group.key if single else f"{group.key}: {members}"
            items.append(
                f"<li data-key='{_e(group.key)}'><span class='key' "
                f"style='background:{group.colour}'></span>{_e(label)}</li>"
            )
        return f"<ul class='legend' data-by='{self.by}'>{''.join(items)}</ul>"


def node_colouring(report: Report) -> Colouring:
    """A colour for each node the run used (mapped or ran a task), or for each of their
    regions past MAX_NODE_COLOURS of them; the nodes it did not use share one pale grey. A
    100-node cluster on which the mapper used 4 nodes of one region gets 4 colours."""
    listed = [(n.name, n.region) for n in report.nodes]
    known = {name for name, _ in listed}
    # Nodes the records name that the report's list lacks (none in a run's own report).
    touched = {r.node for r in report.stats} | set(report.mapping.values())
    listed += [(name, "") for name in sorted(touched - known)]
    used = [(name, region) for name, region in listed if name in touched] or listed
    names = {name for name, _ in used}
    unused = tuple(name for name, _ in listed if name not in names)
    spare = (Group("not used", UNUSED, unused, unused=True),) if unused else ()
    if len(used) <= MAX_NODE_COLOURS:
        groups = tuple(Group(name, colour(i), (name,)) for i, (name, _) in enumerate(used))
        return Colouring("node", groups + spare)
    regions: dict[str, list[str]] = {}
    for name, region in used:
        regions.setdefault(region or "(none)", []).append(name)
    groups = tuple(
        Group(region, colour(i), tuple(members))
        for i, (region, members) in enumerate(regions.items())
    )
    return Colouring("region", groups + spare)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
