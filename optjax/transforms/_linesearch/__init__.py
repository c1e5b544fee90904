"""Line searches: zoom (strong Wolfe) and backtracking (Armijo).

A line search is a transform that scales an incoming direction :math:`u` by a
step size :math:`\\eta` chosen by evaluating the objective along
:math:`w + \\eta u`. Its ``update`` therefore needs the objective and its value
and gradient at the current parameters, as keyword arguments::

    update(u, state, params, value=f(w), grad=grad_f(w), value_fn=f, **data)

where ``data`` are extra keyword arguments of ``f`` (a batch, say). The inner
search is one ``lax.while_loop``, so a step compiles once. The value (and, for
the zoom search, the gradient) at the accepted point is kept in the state;
:func:`value_and_grad_from_state` fetches it so that the next iteration does
not evaluate the objective again.
"""

from optjax.transforms._linesearch._backtracking import (
    BacktrackingLinesearchInfo as BacktrackingLinesearchInfo,
)
from optjax.transforms._linesearch._backtracking import (
    ScaleByBacktrackingLinesearchState as ScaleByBacktrackingLinesearchState,
)
from optjax.transforms._linesearch._backtracking import (
    scale_by_backtracking_linesearch as scale_by_backtracking_linesearch,
)
from optjax.transforms._linesearch._state_reuse import (
    value_and_grad_from_state as value_and_grad_from_state,
)
from optjax.transforms._linesearch._zoom import (
    ScaleByZoomLinesearchState as ScaleByZoomLinesearchState,
)
from optjax.transforms._linesearch._zoom import ZoomLinesearchInfo as ZoomLinesearchInfo
from optjax.transforms._linesearch._zoom import scale_by_zoom_linesearch as scale_by_zoom_linesearch
