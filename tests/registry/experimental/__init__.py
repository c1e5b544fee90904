"""Registry entries for ``optjax.experimental``."""
