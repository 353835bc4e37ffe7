"""Which F.Ra / BWT formulas the paper's printed numbers were computed with, read off the transcription itself.

The paper defines F.Ra (eq. 2) and BWT (eq. 4) over the same T-1 tasks, so for every cell F.Ra = -BWT. The official
score.py (docs/official_code.md section 5) computes F.Ra from each task's best earlier score (``F.Ra_history_max`` of
:mod:`sapt_core.evaluation.metrics`) and divides BWT by T (``BWT_over_T`` = (T-1)/T x the paper's BWT). The ratio F.Ra / (-BWT)
of a printed cell tells them apart (T = 15; "monotone": every task's score only fell after it was learned, so its
best earlier score is a_{t,t}):

* eq. 2 with eq. 4: exactly 1;
* eq. 2 with score.py's BWT: exactly T/(T-1) = 15/14;
* score.py's F.Ra with eq. 4: >= 1 (1 when monotone);
* score.py's F.Ra and BWT: >= 15/14 (15/14 when monotone).

:func:`cell_evidence` lists, for every published cell with both metrics, the interval the ratio can take given the
printed 2-decimal rounding and which of the four formula pairs it is consistent with. :func:`established` decides
over all result tables: BWT over T when cells sit on 15/14 and none on 1 (a monotone row gives 1 under eq. 4, 15/14
under score.py); F.Ra history max when some cell lies above the monotone value beyond rounding (eq. 2 would put every
cell on it). A cell the established pair cannot produce is compared with the most specific pair it is consistent with
(:func:`cell_formulas`). FWT cannot be read off the transcription (no relation ties it to another printed metric), so
it stays eq. 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sapt_core.report.paper_results import ROUNDING

PAPER, OFFICIAL = "paper", "official"
FORMULAS = (PAPER, OFFICIAL)  # sapt report-table --formulas
# metric -> (the paper's equation, the score.py variant): keys of a run's metrics block (sapt_core.evaluation.metrics.cl_metrics)
FORMULA_KEYS = {"F.Ra": {PAPER: "F.Ra", OFFICIAL: "F.Ra_history_max"},
                "BWT": {PAPER: "BWT", OFFICIAL: "BWT_over_T"},
                "FWT": {PAPER: "FWT", OFFICIAL: "FWT_constant_50.94"}}
FORMULA_TEXT = {("F.Ra", PAPER): "F.Ra of paper eq. 2 (a_{t,t} - a_{T,t} over T-1)",
                ("F.Ra", OFFICIAL): "F.Ra of the official score.py (best earlier score - a_{T,t}, over T-1)",
                ("BWT", PAPER): "BWT of paper eq. 4 (over T-1)",
                ("BWT", OFFICIAL): "BWT of the official score.py (over T: (T-1)/T x eq. 4)",
                ("FWT", PAPER): "FWT of paper eq. 3 (single-task runs a_{0,t})",
                ("FWT", OFFICIAL): "FWT of the official score.py (mean a_{t,t} - 50.94)"}
# the four (F.Ra, BWT) pairs, most specific first (the smallest set of ratios they can produce)
PAIRS = ((PAPER, PAPER), (PAPER, OFFICIAL), (OFFICIAL, OFFICIAL), (OFFICIAL, PAPER))
RATIO_TABLES = ("table1", "table2", "table8", "table9")


@dataclass(frozen=True)
class Evidence:
    table: str
    method: str
    group: str
    fra: float
    bwt: float
    lo: float  # the smallest and largest F.Ra / (-BWT) the printed (rounded) numbers allow
    hi: float
    consistent: tuple  # the (F.Ra, BWT) pairs of PAIRS that can produce the cell

    @property
    def ratio(self) -> float:
        return self.fra / -self.bwt


def monotone_ratio(bwt: str, T: int) -> Fraction:
    """F.Ra / (-BWT) of a row whose forgetting is monotone: 1 under eq. 4, T/(T-1) when BWT is divided by T."""
    return Fraction(1) if bwt == PAPER else Fraction(T, T - 1)


def pair_allows(pair: tuple, lo: float, hi: float, T: int) -> bool:
    """Whether the (F.Ra, BWT) formulas can give a ratio in [lo, hi]: eq. 2 exactly the monotone value, score.py's
    history max that value or more."""
    m = float(monotone_ratio(pair[1], T))
    eps = 1e-12
    return lo - eps <= m <= hi + eps if pair[0] == PAPER else hi + eps >= m


def cell_evidence(paper, tables=RATIO_TABLES) -> list[Evidence]:
    """Every published (table, method, group) of ``tables`` with F.Ra and BWT printed and BWT < 0 (a ratio)."""
    T = int(paper.attrs.get("n_tasks") or 15)
    out = []
    rows = paper[paper["table"].isin(tables) & paper["reported"] & paper["metric"].isin(["F.Ra", "BWT"])]
    for (table, method, group), cell in rows.groupby(["table", "method", "group"], sort=False):
        values = dict(zip(cell["metric"], cell["value"]))
        if set(values) != {"F.Ra", "BWT"} or values["BWT"] >= -ROUNDING:
            continue
        f, b = values["F.Ra"], -values["BWT"]
        lo, hi = max(f - ROUNDING, 0.0) / (b + ROUNDING), (f + ROUNDING) / (b - ROUNDING)
        out.append(Evidence(table, method, group, f, values["BWT"], lo, hi,
                            tuple(p for p in PAIRS if pair_allows(p, lo, hi, T))))
    return out


@dataclass(frozen=True)
class Established:
    """The formula pair the published numbers were computed with, and the counts that establish it."""
    fra: str
    bwt: str
    n_cells: int
    at_one: int  # cells whose ratio can be exactly 1 (a monotone row under eq. 4)
    at_T: int  # cells whose ratio can be exactly T/(T-1) (a monotone row under score.py's BWT)
    between: int  # cells strictly between 1 and T/(T-1)
    above: int  # cells above T/(T-1) beyond rounding
    T: int

    def text(self) -> str:
        frac = f"{self.T}/{self.T - 1}"
        return (f"{FORMULA_TEXT[('F.Ra', self.fra)]} and {FORMULA_TEXT[('BWT', self.bwt)]}: of the paper's "
                f"{self.n_cells} cells with both printed, F.Ra / (-BWT) equals {frac} within the printed rounding in "
                f"{self.at_T}, exceeds it in {self.above}, lies between 1 and {frac} in {self.between} and equals 1 in "
                f"{self.at_one}; under eqs. 2 and 4 every cell would be 1 (tests/test_paper_formulas.py)")


def established(paper, tables=RATIO_TABLES) -> Established:
    """Decide the (F.Ra, BWT) pair over the cells of ``tables`` (see the module docstring)."""
    T = int(paper.attrs.get("n_tasks") or 15)
    cells = cell_evidence(paper, tables)
    one, t_ratio = 1.0, float(Fraction(T, T - 1))
    at_one = sum(c.lo <= one <= c.hi for c in cells)
    at_T = sum(c.lo <= t_ratio <= c.hi for c in cells)
    between = sum(c.lo > one and c.hi < t_ratio for c in cells)
    above = sum(c.lo > t_ratio for c in cells)
    bwt = OFFICIAL if at_T > 0 and at_one == 0 else PAPER
    monotone = float(monotone_ratio(bwt, T))
    fra = OFFICIAL if any(c.lo > monotone for c in cells) else PAPER
    return Established(fra, bwt, len(cells), at_one, at_T, between, above, T)


def cell_formulas(paper, tables=RATIO_TABLES) -> tuple[Established, dict]:
    """The established pair and {(table, method, group): (F.Ra formula, BWT formula)} for the cells it cannot
    produce (their most specific consistent pair); every other cell is compared with the established pair."""
    est = established(paper, tables)
    pair = (est.fra, est.bwt)
    exceptions = {}
    for c in cell_evidence(paper, tables):
        if pair not in c.consistent and c.consistent:
            exceptions[(c.table, c.method, c.group)] = c.consistent[0]
    return est, exceptions
