"""Registry entries for ``optjax.contrib``."""
