"""The figures logged to TensorBoard: one scaffold (off-screen matplotlib) behind every agent's figure."""

import pytest
import torch

from metarl.training.figures import adaptation_figure, method_curves_figure

pytest.importorskip("matplotlib")


def test_method_curves_figure_draws_each_method_with_the_learned_one_bold():
    curves = {"learned": ([0, 1, 2], [1.0, 0.1, 0.01]), "adam (lr 0.01)": ([0, 1, 2], [1.0, 0.5, 0.2])}
    figure = method_curves_figure(curves, "step", "loss", title="held-out tasks", log_y=True, reference=0.05)
    (axes,) = figure.axes
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert set(curves) <= set(lines)
    assert lines["learned"].get_linewidth() == 2.5 and lines["adam (lr 0.01)"].get_linewidth() == 1.2
    assert list(lines["adam (lr 0.01)"].get_ydata()) == [1.0, 0.5, 0.2]
    assert axes.get_yscale() == "log" and axes.get_xlabel() == "step" and axes.get_title() == "held-out tasks"
    assert any(list(line.get_ydata()) == [0.05, 0.05] for line in axes.get_lines())  # the reference line
    figure.canvas.draw()  # renders off-screen


def test_teacher_and_adaptation_figures_draw_their_curves():
    from metarl.agents.learned_teacher.evaluate import TeachResult, curve_figure

    result = TeachResult(torch.tensor([10.0]), torch.tensor([True]), 0.5, torch.tensor([0.2, 0.9]),
                         torch.tensor([5.0, 10.0]))
    figure = curve_figure({"learned": result, "noteach": result}, tau=0.9)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[:2] == ["learned", "noteach"] and figure.axes[0].get_yscale() == "linear"
    assert adaptation_figure(torch.tensor([1.0, 2.0]), torch.rand(5), title="t").axes[1].get_xlabel() == \
        "step of the trial"
