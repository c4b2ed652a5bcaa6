"""Figure builders: tensors in, standalone Bokeh layouts out (no file I/O); `show` embeds one as HTML."""

from .core import FigureHTML, js_callback, show
from .heatmap import attention_heatmap, heatmap_columns, label_axes
from .steps import attention_steps_figure, step_panels

__all__ = [
    "FigureHTML",
    "attention_heatmap",
    "attention_steps_figure",
    "heatmap_columns",
    "js_callback",
    "label_axes",
    "show",
    "step_panels",
]
