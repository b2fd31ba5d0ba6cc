"""What a device does with a pattern, said for people: a summary of a playback.Trace and a
picture of it that stays readable at the scale of a whole session."""

import io
import itertools

from .firmware.verifier import pct
from .units import duration, plural

_LISTED = 12  # times listed in a summary line before "..."
_BINS = 600  # slivers of the plot's width; a pulse train is drawn as its range in each
_ZOOM_MS = 2000  # the panels under the plot show this long at full detail


def summary_lines(program, trace, prof, settings):
    """The summary of `facewave preview`: the pattern, then what a device of board `prof` with
    `settings` (firmware Settings) makes of it."""
    info = program.info
    intensity = settings.intensity
    n = program.elements
    elements = "" if n is None else plural(n, "element") + ", "
    lines = [
        "%s: %s" % (info.name, info.description),
        "  pattern    %s, %s%s, %s of bytecode"
        % (
            duration(info.duration),
            elements,
            plural(info.count, "instruction"),
            plural(len(program.data), "byte"),
        ),
        "  device     %s at intensity %d/5 (%s of each level the pattern asks)"
        % (prof.name, intensity, pct(prof.intensity[intensity - 1])),
        "  session    " + session_line(info, trace, prof, settings.session_ms),
    ]
    at = next(t for t, lv in trace.points if lv == trace.peak)
    asked = max((lv for _, lv in trace.pattern), default=0)
    lines.append(
        "  motor      peak %s at %s, mean %s (the pattern alone: peak %s)"
        % (pct(trace.peak), duration(at), pct(trace.mean), pct(asked))
    )
    rests = [(t, text.split(": ", 1)[-1]) for t, text in trace.events if text.startswith("rest")]
    lines.append("  rests      " + (_times(rests) if rests else "none"))
    if trace.zones:
        lines.append(
            "  zones      "
            + ", ".join("%s at %s" % (name, duration(t)) for t, name in trace.zones)
        )
    starts = {t for t, _ in trace.zones}
    if trace.cues:
        cues = [(t, "next zone" if t in starts else "") for t in trace.cues]
        lines.append("  cues       the pattern's %d: %s" % (len(cues), _times(cues)))
    if trace.session_cues:
        lines.append(
            "  cues       the session's %d: %s"
            % (len(trace.session_cues), _times([(t, "") for t in trace.session_cues]))
        )
    return lines


def session_line(info, trace, prof, asked_ms):
    """How long the session is and what it does to the pattern: plays it once, repeats it,
    cuts it (and how to change that)."""
    length, own = trace.duration, info.duration
    if info.zones:
        return "%s, the routine's own length (a routine with zones keeps it)" % duration(length)
    said = duration(length)
    if length == own and own > asked_ms:
        return "%s, the pattern's own length: longer than the %s session, it plays once, whole" % (
            said,
            duration(asked_ms),
        )
    if length < asked_ms:
        said += " (the longest session of a %s board)" % prof.name
    if length < own:
        whole = "%dmin" % -(-own // 60000) if own > 60000 else "%ds" % -(-own // 1000)
        return (
            "%s, shorter than the pattern (%s): the device plays its first %s; `--session %s` "
            "or `facewave set session %s` plays it whole"
            % (said, duration(own), duration(length), whole, whole)
        )
    turns, rest = divmod(length, own)
    times = "once" if turns == 1 else "%d times" % turns
    if rest:
        return "%s: the pattern (%s) plays %s, then %s of it, cut by the session's end" % (
            said,
            duration(own),
            times,
            duration(rest),
        )
    return "%s: the pattern (%s) plays %s, whole" % (said, duration(own), times)


def _times(marks):
    """'45 s (next zone), 1 min 26 s, ...' from (ms, note)."""
    shown = [duration(t) + (" (%s)" % note if note else "") for t, note in marks[:_LISTED]]
    return ", ".join(shown) + (" ..." if len(marks) > _LISTED else "")


# -- the plot ---------------------------------------------------------------------------------
def plot(trace, title=None):
    """The PNG (bytes) of a Trace: the motor level (its mean over a second, and the range it spans
    in each sliver of time, so that a pulse train is a band, not a solid block), the pattern's
    own level beside it, the board's cap, zones shaded while a session runs, pauses, cues by
    kind, the device's events and where the session cuts the pattern; under it, at full
    detail, a session's start, its busiest stretch and its end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zooms = _zooms(trace)
    fig = plt.figure(figsize=(12, 6.8 if zooms else 4.8), dpi=100, layout="constrained")
    if zooms:
        grid = fig.add_gridspec(2, len(zooms), height_ratios=[3, 1.3])
        ax = fig.add_subplot(grid[0, :])
        panels = [fig.add_subplot(grid[1, i]) for i in range(len(zooms))]
    else:
        ax, panels = fig.add_subplot(), []
    runs = _runs(trace)
    end = max(trace.duration, trace.pattern[-1][0] if trace.pattern else 0, 1)
    if trace.cut == end:  # room to see the cut beside the frame
        end += end // 80
    _background(ax, trace, runs, labels=True)
    _overview(ax, trace, end)
    _marks(ax, trace, labels=True)
    _axes(ax, 0, end)
    for i, (z, (name, (a, b))) in enumerate(zip(panels, zooms)):
        letter = "ABC"[i]
        ax.axvspan(a / 1000, b / 1000, ymin=0, ymax=0.025, color="0.2")
        ax.text((a + b) / 2000, 3.5, letter, ha="center", va="bottom", fontsize=8)
        _background(z, trace, runs, labels=False)
        if trace.pattern:
            z.plot(*_steps(trace.pattern, a, b), drawstyle="steps-post", **_PATTERN_DETAIL)
        z.plot(*_steps(trace.points, a, b), drawstyle="steps-post", **_MOTOR)
        _marks(z, trace, labels=False)
        _axes(z, a, b, small=True)
        z.set_title("%s  %s" % (letter, name), loc="left", fontsize=9)
    fig.suptitle(title or trace.name, x=0.01, ha="left", fontsize=11)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    return png.getvalue()


_MOTOR = {"color": "C0", "linewidth": 1.2}
_PATTERN = {"color": "0.4", "linewidth": 0.8, "linestyle": (0, (4, 2))}
_PATTERN_DETAIL = {"color": "0.6", "linewidth": 2.2, "alpha": 0.6}
_MEAN_MS = 1000  # the overview's curves are means over this long: pulses become a level


def _overview(ax, trace, end):
    """The whole trace. Where the level swings faster than a sliver of the plot can show (a
    pulse train), the motor's range in each sliver shaded and the means over a second or more
    drawn; elsewhere the curves themselves."""
    width = end / _BINS
    curves = ((trace.pattern, _PATTERN, "the pattern asks"), (trace.points, _MOTOR, "motor level"))
    if not _swings(trace.points, width):
        for points, style, label in curves:
            if points:
                ax.plot(*_steps(points, 0, end), drawstyle="steps-post", label=label, **style)
        return
    edges = [k * width for k in range(_BINS + 1)]
    lo, hi = _ranges(trace.points, edges)
    xs = [t / 1000 for t in edges]
    ax.fill_between(
        xs,
        lo + lo[-1:],
        hi + hi[-1:],
        step="post",
        color="C0",
        alpha=0.25,
        linewidth=0,
        label="motor: the range it spans",
    )
    window = max(_MEAN_MS, 3 * width)
    over = " (mean over %s)" % duration(round(window))
    breaks = sorted({t for t, _ in trace.events} | ({trace.cut} if trace.cut else set()))
    for points, style, label in curves:
        if points:
            ax.plot(xs, _means(points, edges, window, breaks), label=label + over, **style)


def _swings(points, width):
    """Whether the level turns back three times within some sliver of `width` ms."""
    turns = {}
    rising = None
    for (_, a), (t, b) in itertools.pairwise(points):
        if a != b:
            if rising is not None and rising != (b > a):
                k = int(t // width)
                turns[k] = turns.get(k, 0) + 1
                if turns[k] >= 3:
                    return True
            rising = b > a
    return False


def _ranges(points, edges):
    """Lowest and highest level (%) the step curve takes in each [edges[k], edges[k+1])."""
    lo, hi = [], []
    level, i = 0, 0
    for a, b in itertools.pairwise(edges):
        while i < len(points) and points[i][0] <= a:
            level = points[i][1]
            i += 1
        low = high = level
        j = i
        while j < len(points) and points[j][0] < b:
            low, high = min(low, points[j][1]), max(high, points[j][1])
            j += 1
        lo.append(low / 10)
        hi.append(high / 10)
    return lo, hi


def _means(points, edges, window, breaks):
    """The mean level (%) of the step curve over `window` ms centred on each edge, never
    across a break (a stop, an end, a fault: the mean must not smear the motor past it)."""
    import bisect

    times = [t for t, _ in points]
    energy = [0]
    for (t0, lv), (t1, _) in itertools.pairwise(points):
        energy.append(energy[-1] + lv * (t1 - t0))

    def integral(t):  # level x ms from the first point to t
        i = bisect.bisect_right(times, t) - 1
        if i < 0:
            return 0
        return energy[i] + points[i][1] * (t - times[i])

    out = []
    for t in edges:
        k = bisect.bisect_right(breaks, t)
        a = max(t - window / 2, breaks[k - 1] if k else t - window / 2)
        b = min(t + window / 2, breaks[k] if k < len(breaks) else t + window / 2)
        out.append((integral(b) - integral(a)) / (b - a) / 10)
    return out


def _steps(points, a, b):
    """x (s), y (%) of the step curve over [a, b] ms, for drawstyle steps-post."""
    level = 0
    xs, ys = [a / 1000], [0.0]
    for t, lv in points:
        if t <= a:
            level = lv
        elif t < b:
            xs.append(t / 1000)
            ys.append(lv / 10)
    ys[0] = level / 10
    xs.append(b / 1000)
    ys.append(ys[-1])
    return xs, ys


def _runs(trace):
    """(start, end) of each session: from a start to its end or stop (or the trace's end)."""
    runs, began = [], None
    for t, text in trace.events:
        word = text.split(" ", 1)[0]
        if word == "start":
            if began is not None:
                runs.append((began, t))
            began = t
        elif word in ("end", "stop", "error") and began is not None:
            runs.append((began, t))
            began = None
    if began is not None:
        runs.append((began, trace.duration))
    return runs


def _pauses(trace):
    """(start, end) of each pause."""
    out, since = [], None
    for t, text in trace.events:
        if text == "pause":
            since = t
        elif since is not None and text.split(" ", 1)[0] in ("resume", "stop", "end", "error"):
            out.append((since, t))
            since = None
    return out


def _background(ax, trace, runs, labels):
    """Zones shaded where a session runs, pauses hatched, the board's cap."""
    ends = [t for t, _ in trace.zones[1:]] + [trace.duration]
    colours = {}
    for (z0, name), z1 in zip(trace.zones, ends):
        colour = colours.setdefault(name, "C%d" % (len(colours) % 6 + 4))
        for r0, r1 in runs:
            a, b = max(z0, r0), min(z1, r1)
            if a < b:
                ax.axvspan(a / 1000, b / 1000, color=colour, alpha=0.09, linewidth=0)
                if labels:
                    ax.text((a + b) / 2000, 103, name, ha="center", va="bottom", fontsize=8)
                break  # a zone belongs to the session it started in
    for i, (a, b) in enumerate(_pauses(trace)):
        ax.axvspan(
            a / 1000,
            b / 1000,
            facecolor="none",
            edgecolor="0.5",
            hatch="//",
            linewidth=0,
            label=None if i else "paused",
        )
    ax.axhline(
        trace.cap / 10, color="C3", linewidth=0.8, alpha=0.6, label="board cap %s" % pct(trace.cap)
    )


def _marks(ax, trace, labels):
    """Cues by kind, the device's events, the cut."""
    starts = {t for t, _ in trace.zones}
    kinds = (
        ([t for t in trace.cues if t in starts], "C1", "-", "cue: the next zone"),
        ([t for t in trace.cues if t not in starts], "C3", "--", "the pattern's cue"),
        (trace.session_cues, "C2", ":", "the session's cue"),
    )
    for times, colour, style, label in kinds:
        for i, t in enumerate(times):
            ax.axvline(
                t / 1000, color=colour, linewidth=1.1, linestyle=style, label=None if i else label
            )
    for t, text in trace.events:
        if text.split(" ", 1)[0] in ("start", "pause", "resume"):
            continue  # a session's shading and the hatching say these
        ax.axvline(t / 1000, color="0.2", linewidth=0.9, linestyle="-.")
        if labels:
            ax.text(t / 1000, 12, text + " ", rotation=90, fontsize=7, va="bottom", ha="right")
    if trace.cut is not None:
        ax.axvline(
            trace.cut / 1000, color="C4", linewidth=1.8, label="the session cuts the pattern"
        )
        if trace.pattern and trace.pattern[-1][0] > trace.cut:
            ax.axvspan(
                trace.cut / 1000,
                trace.pattern[-1][0] / 1000,
                color="0.5",
                alpha=0.15,
                linewidth=0,
                label="never played: after the session's end",
            )


def _axes(ax, a, b, small=False):
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.set_xlim(a / 1000, b / 1000)
    ax.set_ylim(0, 110)
    ax.grid(alpha=0.3)
    size = 7 if small else 9
    ax.tick_params(labelsize=size)
    if b - a > 120000:  # minutes and seconds, on whole steps of them
        step = next((s for s in (15, 30, 60, 120, 300, 600) if (b - a) / 1000 / s <= 12), 1200)
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda s, _: "%d:%02d" % divmod(round(s), 60)))
        ax.set_xlabel("time (min:s)", fontsize=size)
    else:
        ax.set_xlabel("time (s)", fontsize=size)
    ax.set_ylabel("%" if small else "level (% of full drive)", fontsize=size)


def _zooms(trace):
    """(title, (start, end)) of the panels under the plot: the first session's first and last
    moments and its busiest stretch (the most level travelled: a pulse train); none for a
    short trace."""
    r0, r1 = (_runs(trace) or [(0, trace.duration)])[0]
    if r1 - r0 < 10 * _ZOOM_MS:
        return []
    points = trace.points
    travel, best, busiest = [0], 0, None
    for (_, a), (_, b) in itertools.pairwise(points):
        travel.append(travel[-1] + abs(b - a))
    j = 0
    for i, (t, _) in enumerate(points):
        while points[j][0] < t - _ZOOM_MS:
            j += 1
        a = points[j][0]
        if r0 + _ZOOM_MS <= a <= r1 - 2 * _ZOOM_MS and travel[i] - travel[j] > best:
            best, busiest = travel[i] - travel[j], a
    zooms = [("the start", (r0, r0 + _ZOOM_MS))]
    if busiest is not None:
        zooms.append(("the busiest %s" % duration(_ZOOM_MS), (busiest, busiest + _ZOOM_MS)))
    zooms.append(("the end", (r1 - _ZOOM_MS, r1)))
    return zooms
