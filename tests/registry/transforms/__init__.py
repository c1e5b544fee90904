"""Registry entries for ``optjax.transforms``."""
