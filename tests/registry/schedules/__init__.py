"""Registry entries for ``optjax.schedules``."""
