"""Which F.Ra / BWT formulas the paper's printed numbers were computed with (sapt_core.report.paper_formulas), read
off the transcription (config/paper_results.yaml): under the paper's eqs. 2 and 4 every cell has F.Ra = -BWT; the
official score.py divides BWT by T and takes each task's best earlier score (docs/official_code.md section 5)."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sapt_core.evaluation import metrics
from sapt_core.report import paper_formulas as pf
from sapt_core.report.paper_results import load_paper_results

PAPER = Path(__file__).resolve().parents[1] / "config" / "paper_results.yaml"


@pytest.fixture(scope="module")
def paper():
    return load_paper_results(PAPER)


def _matrix(rows):
    T = len(rows)
    return [list(r) + [None] * (T - len(r)) for r in rows]


def test_the_ratio_of_each_formula_pair_on_score_matrices():
    # monotone forgetting (every task's score only falls after it is learned): eq. 2 / eq. 4 give ratio 1, score.py's
    # BWT over T gives T/(T-1), and the history max equals a_{t,t}
    mono = _matrix([[80], [70, 90], [60, 85, 70]])
    m = metrics.cl_metrics(mono)
    assert m["F.Ra"] / -m["BWT"] == pytest.approx(1.0)
    assert m["F.Ra"] / -m["BWT_over_T"] == pytest.approx(3 / 2)
    assert m["F.Ra_history_max"] == pytest.approx(m["F.Ra"])
    # task 1 improves after it was learned (80 -> 90): the history max exceeds a_{t,t}, the ratio exceeds T/(T-1)
    rec = _matrix([[80], [90, 90], [60, 85, 70]])
    r = metrics.cl_metrics(rec)
    assert r["F.Ra_history_max"] / -r["BWT_over_T"] > 3 / 2
    for a in (mono, rec):
        lo = hi = metrics.forgetting_rate_history_max(a) / -metrics.backward_transfer_over_T(a)
        assert pf.pair_allows((pf.OFFICIAL, pf.OFFICIAL), lo, hi, 3)
        assert pf.pair_allows((pf.PAPER, pf.OFFICIAL), lo, hi, 3) == (a is mono)
        assert not pf.pair_allows((pf.PAPER, pf.PAPER), lo, hi, 3)


@pytest.mark.parametrize("table", ["table1", "table8", "table9"])
def test_tables_1_8_9_were_computed_with_score_py(paper, table):
    est = pf.established(paper, (table,))
    cells = pf.cell_evidence(paper, (table,))
    assert (est.fra, est.bwt) == (pf.OFFICIAL, pf.OFFICIAL)
    # every cell is consistent with score.py's pair; no cell is 1 (eqs. 2 and 4) nor below 15/14
    assert all((pf.OFFICIAL, pf.OFFICIAL) in c.consistent for c in cells)
    assert all((pf.PAPER, pf.PAPER) not in c.consistent for c in cells)
    assert est.at_one == 0 and est.between == 0 and est.at_T > 0
    assert est.at_T + est.above == est.n_cells == len(cells)


def test_the_15_14_evidence_over_tables_1_8_9(paper):
    cells = pf.cell_evidence(paper, ("table1", "table8", "table9"))
    assert len(cells) == 51                      # 9 methods x 2 benchmarks - EPI SuperNI + 8 x 2 + 9 x 2 orders
    frac = float(Fraction(15, 14))
    on = [c for c in cells if c.lo <= frac <= c.hi]
    assert len(on) == 13 and all(c.hi >= frac for c in cells)
    ls = {(c.table, c.method, c.group): c for c in cells}
    assert ls[("table1", "seq-lora", "Long_Sequence")].ratio == pytest.approx(78.61 / 73.37)
    assert ("table1", "replay", "SuperNI") in {(c.table, c.method, c.group) for c in on}
    # a cell on 15/14 is the only kind that separates eq. 2 + score.py's BWT from the rest
    assert all((pf.PAPER, pf.OFFICIAL) in c.consistent for c in on)
    assert not any((pf.PAPER, pf.OFFICIAL) in c.consistent for c in cells if c not in on)


def test_table2_and_its_one_exception(paper):
    est, exceptions = pf.cell_formulas(paper)
    assert (est.fra, est.bwt) == (pf.OFFICIAL, pf.OFFICIAL) and est.n_cells == 61
    # - ARM SuperNI prints F.Ra 42.83, BWT -40.44: 1.059 < 15/14, which BWT over T cannot give
    assert exceptions == {("table2", "sapt-lora-noarm", "SuperNI"): (pf.OFFICIAL, pf.PAPER)}
    t2 = pf.established(paper, ("table2",))
    assert t2.between == 1 and t2.at_one == 0


def test_eqs_2_and_4_would_be_established_from_their_own_numbers(paper):
    # the decision is not built in: a transcription whose every cell has F.Ra = -BWT establishes the paper's pair
    fake = paper.copy()
    fake.attrs = dict(paper.attrs)
    fra = fake["metric"] == "F.Ra"
    bwt_of = {(r.table, r.method, r.group): r.value for r in fake[fake["metric"] == "BWT"].itertuples()}
    fake.loc[fra, "value"] = [-bwt_of.get((r.table, r.method, r.group), np.nan) for r in fake[fra].itertuples()]
    est = pf.established(fake)
    assert (est.fra, est.bwt) == (pf.PAPER, pf.PAPER) and est.at_one == est.n_cells
