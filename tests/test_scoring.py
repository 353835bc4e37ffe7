"""Per-instance metrics: SuperNI normalisation, Rouge-L against rouge_score, score_task aggregation and validation."""

import pytest
from rouge_score import rouge_scorer

from sapt_core.errors import SaptError
from sapt_core.evaluation.scoring import exact_match, normalize_answer, rouge_l, score_task


def test_normalize_answer_lowercases_strips_punct_and_whitespace_but_keeps_articles():
    assert normalize_answer("  The  Cat.\n") == "the cat"
    assert normalize_answer("A (big) dog!") == "a big dog"
    assert normalize_answer("don't") == "dont"


@pytest.mark.parametrize(
    "pred, ref, expected",
    [
        ("The cat.", "the cat", 100.0),
        ("the cat", "cat", 0.0),  # article kept: SuperNI normaliser does not drop "the"
        ("a cat", "cat", 0.0),
        ("Positive", "positive!", 100.0),
        ("", "", 0.0),  # an empty prediction never matches, not even an empty reference
        ("negative", "positive", 0.0),
    ],
)
def test_exact_match(pred, ref, expected):
    assert exact_match(pred, ref) == expected


def test_rouge_l_hand_computed():
    # pred "the cat sat" vs ref "the cat sat on the mat": LCS = 3 tokens, P = 3/3 = 1, R = 3/6 = 0.5,
    # F = 2PR/(P+R) = 1/1.5 = 0.6667 -> 66.67
    assert rouge_l("the cat sat", "the cat sat on the mat") == pytest.approx(200 / 3)
    # stemming: "cats running" -> "cat run" (Porter), so identical token sequences -> 100
    assert rouge_l("cats running", "cat run") == pytest.approx(100.0)
    assert rouge_l("", "anything") == 0.0


@pytest.mark.parametrize(
    "pred, ref",
    [
        ("the quick brown fox", "a quick brown dog jumps"),
        ("Police killed the gunman.", "The gunman was shot down by police."),
        ("What is the capital of France?", "Paris is the capital of France"),
        ("completely different", "nothing in common here"),
    ],
)
def test_rouge_l_matches_rouge_score(pred, ref):
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert rouge_l(pred, ref) == pytest.approx(100 * scorer.score(ref, pred)["rougeL"].fmeasure)


def test_score_task_accuracy_reports_both_means():
    preds = ["Yes", "no", "the cat sat"]
    refs = [["yes"], ["No."], ["the cat sat on the mat"]]
    out = score_task(preds, refs, "accuracy")
    # EM per instance: 100, 100, 0 -> mean 66.67; Rouge-L: 100, 100, 66.67 -> mean 88.89
    assert out["metric"] == "accuracy" and out["n"] == 3
    assert out["per_instance"] == [100.0, 100.0, 0.0]
    assert out["score"] == pytest.approx(200 / 3) == pytest.approx(out["exact_match"])
    assert out["rougeL"] == pytest.approx((100 + 100 + 200 / 3) / 3)
    r = score_task(preds, refs, "rougeL")
    assert r["metric"] == "rougeL" and r["score"] == pytest.approx(out["rougeL"])
    assert r["exact_match"] == pytest.approx(out["exact_match"])


def test_score_task_multi_reference():
    preds, refs = ["the dog"], [["a cat", "the dog"]]
    assert score_task(preds, refs, "accuracy")["score"] == 0.0  # "single" uses refs[0] only (official code)
    assert score_task(preds, refs, "accuracy", multi_reference="max")["score"] == 100.0
    assert score_task(preds, ["the dog"], "rougeL")["score"] == pytest.approx(100.0)  # bare string = one reference


@pytest.mark.parametrize(
    "preds, refs, metric, kw, match",
    [
        (["a", "b"], [["a"]], "accuracy", {}, "2 predictions but 1 references"),
        (["a"], [["a"]], "bleu", {}, "unknown metric"),
        ([], [], "rougeL", {}, "empty prediction set"),
        (["a"], [[]], "rougeL", {}, r"references\[0\]"),
        (["a"], [["a"]], "rougeL", {"multi_reference": "min"}, "multi_reference"),
    ],
)
def test_score_task_errors(preds, refs, metric, kw, match):
    with pytest.raises(SaptError, match=match):
        score_task(preds, refs, metric, **kw)
