"""``musicprism similar | search | playlist | timeline``: asking a running server, through the
Python client (:mod:`service.client`), from a terminal.

They talk HTTP to ``--url`` (default ``MUSICPRISM_URL`` or http://127.0.0.1:8000), so they
see what every other client sees and work against a server on another host. Results print as
a table; ``--json`` prints the API's answer as it came. An error the API gives back prints
its ``detail``: exit 2 for a 422 (the input), 1 for anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from layout.numbers import INTEGER, NumberSyntaxError, parse_int
from service.client import Client
from service.schemas import (
    PlaylistResponse,
    SearchResponse,
    SimilarResponse,
    TagTimelinePublic,
)

#: Tags shown per window by ``musicprism timeline`` (``--json`` gives them all).
TIMELINE_TOP = 3


def client_of(args: argparse.Namespace) -> Client:
    return Client(args.url, api_key=args.api_key)


def parse_filters(pairs: list[str]) -> dict[str, list[str]]:
    """``["year_min=1970", "artist=Ann", "artist=Bob"]`` -> ``{"year_min": ["1970"],
    "artist": ["Ann", "Bob"]}`` (the server checks names and values)."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliUsage(f"--filter takes NAME=VALUE (e.g. year_min=1970), got {pair!r}")
        out.setdefault(name.strip(), []).append(value)
    return out


class CliUsage(ValueError):
    """A command line that cannot be asked (exit 2)."""


def run_similar(args: argparse.Namespace) -> int:
    filters = parse_filters(args.filter)
    api = client_of(args)
    positive = [_seed(t) for t in args.target]
    negative = [_seed(t) for t in args.negative]
    if len(positive) > 1 or negative:
        if args.start is not None or args.duration is not None or args.regions:
            raise CliUsage("--start, --duration and --regions take one seed; several seeds "
                           "(or --negative) are each used whole")
        answer = api.query(
            positive=[s for s in positive if isinstance(s, int)],
            negative=[s for s in negative if isinstance(s, int)],
            positive_clips=[s for s in positive if isinstance(s, Path)],
            negative_clips=[s for s in negative if isinstance(s, Path)],
            negative_weight=args.negative_weight, facet=args.facet, k=args.k, **filters)
    elif isinstance(positive[0], Path):
        answer = api.similar_to_clip(positive[0], start=args.start, duration=args.duration,
                                     facet=args.facet, k=args.k, regions=args.regions,
                                     identify=not args.no_identify, **filters)
    else:
        if args.start is not None or args.duration is not None:
            raise CliUsage("--start and --duration apply to a clip, not to a track id")
        answer = api.similar(positive[0], facet=args.facet, k=args.k, regions=args.regions,
                             **filters)
    return _show(args, answer, similar_table)


def _seed(target: str) -> int | Path:
    """An audio file's path, or a catalogue track id."""
    if Path(target).is_file():
        return Path(target)
    if INTEGER.fullmatch(target):
        return parse_int(target)
    raise CliUsage(f"{target!r} is neither an audio file nor a track id")


def run_search(args: argparse.Namespace) -> int:
    text = " ".join(args.words).strip() or None
    if text is None and not args.tag:
        raise CliUsage("give a text or --tag, e.g. `musicprism search calm piano, no vocals`")
    answer = client_of(args).search(args.tag, text=text, k=args.k,
                                    **parse_filters(args.filter))
    return _show(args, answer, search_table)


def run_playlist(args: argparse.Namespace) -> int:
    answer = client_of(args).playlist(args.source, args.target, k=args.k, facet=args.facet,
                                      spacing=args.spacing, **parse_filters(args.filter))
    return _show(args, answer, playlist_table)


def run_timeline(args: argparse.Namespace) -> int:
    answer = client_of(args).timeline(args.track_id, concept=args.concept)
    return _show(args, answer, timeline_table)


def _show(args: argparse.Namespace, answer: BaseModel,
          table: Callable[[Any], list[str]]) -> int:
    if args.json:
        sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in table(answer)))
    return 0


def _name(track: Any) -> str:
    return " — ".join(x for x in (track.title or f"track {track.id}", track.artist) if x)


def similar_table(answer: SimilarResponse) -> list[str]:
    mix = ", ".join(f"{f} {w:g}" for f, w in answer.facet_weights.items())
    lines = [f"facet weights: {mix}"]
    facets = list(answer.results[0].facets) if answer.results else []
    lines.append(f"{'#':>3} {'id':>7} {'score':>7}  " + " ".join(f"{f[:10]:>10}" for f in facets)
                 + "  track")
    for rank, r in enumerate(answer.results, 1):
        cos = " ".join(f"{r.facets[f]:>10.3f}" for f in facets)
        extra = ""
        if r.match is not None:
            extra += f"  [same recording, from {r.match.offset:.1f} s]"
        if r.region is not None:
            extra += (f"  [best match {r.region.start:.1f}–{r.region.end:.1f} s, "
                      f"score {r.region.score:.3f}]")
        lines.append(f"{rank:>3} {r.track.id:>7} {r.score:>7.3f}  {cos}  {_name(r.track)}{extra}")
    if not answer.results:
        lines.append("no track qualifies")
    return lines


def search_table(answer: SearchResponse) -> list[str]:
    lines = []
    if answer.reading is not None:
        read = ", ".join(f"{'not ' if t.weight < 0 else ''}{'/'.join(t.tags)}"
                         + (f" ×{abs(t.weight):g}" if abs(t.weight) != 1 else "")
                         for t in answer.reading.terms)
        lines.append(f"read as: {read}")
        if answer.reading.no_tag:
            lines.append(f"no tag for: {', '.join(answer.reading.no_tag)}")
        if answer.reading.not_understood:
            lines.append(f"not understood: {', '.join(answer.reading.not_understood)}")
    tags = list(answer.tag_weights)
    lines.append(f"{'#':>3} {'id':>7} {'score':>7}  " + " ".join(f"{t[:10]:>10}" for t in tags)
                 + "  track")
    for rank, r in enumerate(answer.results, 1):
        probs = " ".join(f"{r.tag_scores.get(t, float('nan')):>10.2f}" for t in tags)
        lines.append(f"{rank:>3} {r.track.id:>7} {r.score:>7.3f}  {probs}  {_name(r.track)}")
    if not answer.results:
        lines.append("no track qualifies")
    return lines


def playlist_table(answer: PlaylistResponse) -> list[str]:
    info = answer.query.playlist
    assert info is not None  # every playlist answer carries its ends
    mix = ", ".join(f"{f} {w:g}" for f, w in answer.facet_weights.items())
    lines = [f"from {_name(info.from_track)} to {_name(info.to_track)} "
             f"(A to B {info.score:.3f}; facet weights: {mix})",
             f"{'t':>5} {'id':>7} {'to A':>6} {'to B':>6} {'prev':>6}  track"]
    for s in answer.results:
        lines.append(f"{s.t:>5.2f} {s.track.id:>7} {s.from_score:>6.3f} {s.to_score:>6.3f} "
                     f"{s.previous_score:>6.3f}  {_name(s.track)}")
    if answer.found < answer.k:
        lines.append(f"{answer.found} of {answer.k} steps found (too few tracks qualify)")
    return lines


def timeline_table(answer: TagTimelinePublic) -> list[str]:
    lines = [f"track {answer.track_id}: {len(answer.windows)} windows of "
             f"{answer.window_seconds:g} s every {answer.hop_seconds:g} s "
             f"(the {TIMELINE_TOP} most probable tags of each)"]
    for w in answer.windows:
        top = sorted(w.tags.items(), key=lambda kv: -kv[1])[:TIMELINE_TOP]
        tags = "  ".join(f"{t} {p:.2f}" for t, p in top)
        lines.append(f"{w.start:>8.1f}–{w.start + w.duration:<8.1f} {tags}")
    return lines


def _integer(text: str) -> int:
    try:
        return parse_int(text)
    except NumberSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None,
                   help="the server (default: MUSICPRISM_URL or http://127.0.0.1:8000)")
    p.add_argument("--api-key", default=None, help="X-API-Key (default: MUSICPRISM_API_KEY)")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=_integer, default=10, help="how many results (default: 10)")
    p.add_argument("--filter", action="append", default=[], metavar="NAME=VALUE",
                   help="a filter parameter of the API (repeatable), e.g. year_min=1970, "
                        "artist=Ann, exclude=12, tag=jazz (README, 'Filters')")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``similar``, ``search``, ``playlist`` and ``timeline``."""
    p = sub.add_parser("similar", help="tracks like audio files or catalogue tracks (HTTP)")
    p.add_argument("target", nargs="+",
                   help="an audio file or a catalogue track id; several: tracks like all of "
                        "them (POST /similar/query)")
    p.add_argument("--negative", action="append", default=[], metavar="FILE|ID",
                   help="a seed to be unlike (repeatable)")
    p.add_argument("--negative-weight", type=float, default=None,
                   help="how strongly the negatives push away (default 1)")
    p.add_argument("--facet", default=None, help="facet mix, e.g. mood or mood:0.7,genre:0.3")
    p.add_argument("--start", type=float, default=None, help="clip: seconds to skip")
    p.add_argument("--duration", type=float, default=None, help="clip: seconds to use")
    p.add_argument("--regions", action="store_true", help="the best-matching stretch of each")
    p.add_argument("--no-identify", action="store_true",
                   help="clip: no fingerprint identification")
    _filters(p)
    _common(p)
    p.set_defaults(func=run_similar)

    p = sub.add_parser("search", help="tracks by tags or a free-text description (HTTP)")
    p.add_argument("words", nargs="*", help="a description, e.g. calm piano, no vocals")
    p.add_argument("--tag", action="append", default=[], help="a tag to rank by (repeatable)")
    _filters(p)
    _common(p)
    p.set_defaults(func=run_search)

    p = sub.add_parser("playlist", help="tracks that move from one track to another (HTTP)")
    p.add_argument("source", type=_integer, help="track A (where it starts)")
    p.add_argument("target", type=_integer, help="track B (where it ends)")
    p.add_argument("--facet", default=None, help="facet mix, e.g. mood or mood:0.7,genre:0.3")
    p.add_argument("--spacing", type=_integer, default=0,
                   help="steps between two tracks of one artist (default: 0)")
    _filters(p)
    _common(p)
    p.set_defaults(func=run_playlist)

    p = sub.add_parser("timeline", help="a track's tag probabilities window by window (HTTP)")
    p.add_argument("track_id", type=_integer)
    p.add_argument("--concept", default=None, help="only this concept's tags (e.g. mood)")
    _common(p)
    p.set_defaults(func=run_timeline)
