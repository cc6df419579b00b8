"""The course's figures, each a function returning a matplotlib Figure; matplotlib is imported inside
the function, so importing symformer stays fast.
"""

from symformer.figures.course import attention_patterns_figure, softmax_saturation_figure
from symformer.figures.positional import dot_product_by_offset, encoding_heatmap, rope_score_by_offset, rotation_on_circle

__all__ = ["attention_patterns_figure", "dot_product_by_offset", "encoding_heatmap", "rope_score_by_offset",
           "rotation_on_circle", "softmax_saturation_figure"]
