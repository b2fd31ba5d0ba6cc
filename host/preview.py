"""Pictures and summaries of what a pattern makes the motor do."""

from .firmware.verifier import pct
from .units import duration, plural


def summary_lines(program, trace):
    info = program.info
    lines = [
        "%s: %s" % (info.name, info.description),
        "  duration   %s" % duration(info.duration),
        "  elements   %s (%s, %s of bytecode)"
        % (
            "?" if program.elements is None else program.elements,
            plural(info.count, "instruction"),
            plural(len(program.data), "byte"),
        ),
        "  intensity  peak %s, mean %s" % (pct(trace.peak), pct(trace.mean)),
        "  motor on   longest run without a rest %s" % duration(info.longest_on),
    ]
    if trace.zones:
        lines.append(
            "  zones      "
            + ", ".join("%s at %s" % (name, duration(t)) for t, name in trace.zones)
        )
    if trace.cues:
        lines.append(
            "  cues       %d, at %s"
            % (
                len(trace.cues),
                ", ".join(duration(t) for t in trace.cues[:12])
                + (" ..." if len(trace.cues) > 12 else ""),
            )
        )
    return lines


def plot(trace, path, title=None, events=()):
    """Write a PNG of level over time with zones shaded and cues (and events) marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = [], []
    for t, lv in trace.changes():
        if xs:
            xs.append(t / 1000)
            ys.append(ys[-1])
        xs.append(t / 1000)
        ys.append(lv / 10)
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    ends = [t for t, _ in trace.zones[1:]] + [trace.duration]
    for i, ((start, name), end) in enumerate(zip(trace.zones, ends)):
        ax.axvspan(start / 1000, end / 1000, color="C%d" % (i % 10), alpha=0.08)
        ax.text((start + end) / 2000, 102, name, ha="center", va="bottom", fontsize=9)
    for t in trace.cues:
        ax.axvline(t / 1000, color="C3", linewidth=0.8, linestyle="--")
    for t, label in events:
        ax.axvline(t / 1000, color="0.3", linewidth=0.8, linestyle=":")
        ax.text(t / 1000, 2, label, rotation=90, fontsize=7, va="bottom")
    ax.plot(xs, ys, linewidth=0.8, color="C0")
    ax.set_xlim(0, max(trace.duration / 1000, 0.001))
    ax.set_ylim(0, 110)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("motor level (%)")
    ax.set_title(title or trace.name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
