"""Every domain error has words in both languages (web/words/problems.py), so a page shows a refusal
in its own language; the words' parameters come from the error's data."""

from __future__ import annotations

import re
from string import Formatter

from shopfest.core.errors import DomainError, InvalidInput
from shopfest.inventory.model import TooManyUnpaid
from shopfest.web.forms import problem_message
from shopfest.web.i18n import Translator
from shopfest.web.words.problems import WORDS
from tests.unit.test_errors import every_error

HAN = re.compile("[\u4e00-\u9fff]")


def test_every_error_code_has_words() -> None:
    missing = sorted({cls.code for cls in every_error()} - {k.removeprefix("problem.") for k in WORDS})
    assert missing == []


def test_every_chinese_text_is_chinese_and_asks_nothing_english_does_not() -> None:
    for key, (english, chinese) in WORDS.items():
        assert HAN.search(chinese), key
        asked = {name for _, name, _, _ in Formatter().parse(chinese) if name}
        assert asked <= {name for _, name, _, _ in Formatter().parse(english) if name} | {"detail"}, key


def test_a_refusal_reads_in_the_viewers_language_with_its_data() -> None:
    refusal = TooManyUnpaid("at most 3 unpaid units of SKU 7 per shopper; you hold 3",
                            sku_id=7, limit=3, held=3)
    assert problem_message(refusal, Translator("zh")) == (
        "该商品未付款件数过多（最多 3 件）：请先付款或取消订单。")
    assert "at most 3" in problem_message(refusal, Translator("en"))


def test_a_general_error_keeps_its_english_reason_and_says_it_in_general_in_chinese() -> None:
    error = InvalidInput("the search text is at most 200 characters")
    assert problem_message(error, Translator("en")) == "the search text is at most 200 characters"
    assert HAN.search(problem_message(error, Translator("zh")))


def test_words_naming_data_the_error_lacks_fall_back_to_its_detail() -> None:
    class Odd(DomainError):
        code = "too-many-unpaid"

    assert problem_message(Odd("no limit given"), Translator("zh")) == "no limit given"
