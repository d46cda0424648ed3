from __future__ import annotations

import shopfest.app  # noqa: F401  # every context's tables join the metadata
from shopfest.core.citus import DISTRIBUTED, REFERENCE
from shopfest.core.db import metadata


def test_every_table_has_one_place_and_every_key_holds_its_distribution_column() -> None:
    tables = {t.name: t for t in metadata.sorted_tables}
    assert sorted(REFERENCE + tuple(DISTRIBUTED)) == sorted(tables)
    for name, plan in DISTRIBUTED.items():
        table = tables[name]
        key = plan.key or tuple(c.name for c in table.primary_key)
        assert plan.column in key and set(key) >= {c.name for c in table.primary_key}, name
        if plan.colocate_with:  # colocated tables hash the same type of value
            partner = DISTRIBUTED[plan.colocate_with].column
            assert repr(table.c[plan.column].type) == repr(tables[plan.colocate_with].c[partner].type), name
