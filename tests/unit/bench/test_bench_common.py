from bench.common import xquad_human_translations


def test_a_human_translation_is_the_parallel_xquad_question_both_ways() -> None:
    pairs = xquad_human_translations()

    assert (
        pairs["黑豹队的防守丢了多少分？"] == "How many points did the Panthers defense surrender?"
    )
    assert (
        pairs["How many points did the Panthers defense surrender?"] == "黑豹队的防守丢了多少分？"
    )
    assert (
        pairs["How many career sacks did Jared Allen have?"] == "贾里德在职业生涯中有多少次擒杀？"
    )
