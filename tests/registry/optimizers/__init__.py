"""Registry entries for the optimizer aliases (``optjax._optimizers``)."""
