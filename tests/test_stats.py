"""The reports' 95% intervals: of a mean (normal approximation) and of a mean paired difference (Student's t)."""

import math

import pytest
import torch

from metarl.stats import mean_ci95, paired_interval, t_quantile


@pytest.mark.parametrize("dof, quantile", [(1, 12.71), (4, 2.78), (17, 2.13), (29, 2.05), (30, 1.96), (500, 1.96)])
def test_t_quantile_reads_the_table_rounding_the_degrees_of_freedom_down(dof, quantile):
    assert t_quantile(dof) == quantile


def test_paired_interval_is_the_mean_difference_with_a_student_t_half_width():
    differences = torch.tensor([0.5, 1.5, 1.0, 2.0, 0.0])
    mean, half = paired_interval(differences)
    assert mean == pytest.approx(1.0)
    assert half == pytest.approx(2.78 * float(differences.double().std()) / math.sqrt(5))
    assert half > float(mean_ci95(differences)[1])  # wider than the normal approximation for few pairs


def test_paired_interval_of_one_pair_has_no_width():
    mean, half = paired_interval(torch.tensor([3.0]))
    assert mean == 3.0 and math.isnan(half)
