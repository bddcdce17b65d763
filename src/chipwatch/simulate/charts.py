"""Charts of simulated outputs with their bands: a PNG (matplotlib) and an interactive HTML page
(plotly, with its JavaScript written into the file so it opens offline)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from chipwatch.errors import InvalidInput
from chipwatch.simulate.model import Result

PLOTTED = ("CN", "us_china_ratio", "china_domestic_share", "leverage")
TITLES = {"CN": "China installed compute (H100e)", "US": "US installed compute (H100e)",
          "us_china_ratio": "US : China installed compute", "china_domestic_share": "China's domestic share of new compute",
          "leverage": "Leverage: share of China's new compute the US can stop"}


def _band(result: Result, name: str) -> tuple[list[float], np.ndarray, np.ndarray, np.ndarray]:
    series = result.output(name)
    series = np.where(np.isfinite(series), series, np.nan)
    x = [q.year + (q.month - 1) / 12 for q in result.quarters]
    p10, p90 = np.nanpercentile(series, [10, 90], axis=1)
    med = np.nanmedian(series, axis=1)
    return x, p10, med, p90


def plot(results: Mapping[str, Result], path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() == ".png":
        return _png(results, p)
    if p.suffix.lower() in (".html", ".htm"):
        return _html(results, p)
    raise InvalidInput(f"--plot {p}: use a .png or .html file name")


def _png(results: Mapping[str, Result], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    for ax, name in zip(axes.flat, PLOTTED, strict=True):
        for policy, r in results.items():
            x, lo, med, hi = _band(r, name)
            ax.plot(x, med, label=policy)
            ax.fill_between(x, lo, hi, alpha=0.2)
        ax.set_title(TITLES[name])
        if name in ("CN",):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("chipwatch policy scenarios: medians and 10-90 % bands")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _html(results: Mapping[str, Result], path: Path) -> Path:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, subplot_titles=[TITLES[n] for n in PLOTTED])
    for k, name in enumerate(PLOTTED):
        row, col = k // 2 + 1, k % 2 + 1
        for policy, r in results.items():
            x, lo, med, hi = _band(r, name)
            fig.add_trace(go.Scatter(x=x + x[::-1], y=list(hi) + list(lo[::-1]), fill="toself", opacity=0.2,
                                     line={"width": 0}, name=f"{policy} 10-90 %", legendgroup=policy, showlegend=False),
                          row=row, col=col)
            fig.add_trace(go.Scatter(x=x, y=med, name=policy, legendgroup=policy, showlegend=k == 0), row=row, col=col)
    fig.update_layout(title="chipwatch policy scenarios: medians and 10-90 % bands", height=800)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path
