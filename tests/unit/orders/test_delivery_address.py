"""Where shipped goods go: an address as typed is tidied, each field's rule names the field it
breaks, and the copy an order keeps is the address as it was."""

from __future__ import annotations

import pytest

from shopfest.orders.model import BadAddress, DeliveryAddress

HOME = {"name": "Ann Lee", "phone": "+86 (138) 0013-8000", "country": "cn", "city": " Hangzhou ",
        "line1": "1 Wenyi Road", "line2": "", "postcode": "310000"}


def test_an_address_as_typed_is_tidied() -> None:
    address = DeliveryAddress.typed(**HOME)
    assert (address.phone, address.country, address.city) == ("+8613800138000", "CN", "Hangzhou")


@pytest.mark.parametrize(("change", "field"), [
    ({"name": " "}, "name"), ({"name": "x" * 81}, "name"), ({"phone": "13800138000"}, "phone"),
    ({"phone": "+0123456789"}, "phone"), ({"country": "CHN"}, "country"), ({"city": ""}, "city"),
    ({"line1": ""}, "line1"), ({"line2": "x" * 121}, "line2"), ({"postcode": "31/000"}, "postcode"),
    ({"line1": "1 Wenyi\nRoad"}, "line1"),
])
def test_each_rule_names_the_field_it_refuses(change: dict[str, str], field: str) -> None:
    with pytest.raises(BadAddress) as refused:
        DeliveryAddress.typed(**{**HOME, **change})
    assert refused.value.data["field"] == field


def test_the_copy_an_order_keeps_builds_the_same_address_without_its_id() -> None:
    address = DeliveryAddress.typed(**HOME, id=7)
    assert DeliveryAddress(**address.snapshot()) == DeliveryAddress.typed(**HOME)
    assert "id" not in address.snapshot()
