from rayqe.models.cost import format_cost, model_cost
from rayqe.models.drl import DRLEncoder
from rayqe.models.enhancer import Enhancer


def test_cost_has_every_part_and_stage_flops_add_up(tiny_config):
    drl, enh = DRLEncoder(tiny_config.drl), Enhancer(tiny_config)
    parts = model_cost(drl, enh, 32, 48, repeats=1)
    assert [p.name for p in parts] == ["drl", "align+fuse", "stage1", "stage2", "stage3", "stage4"]
    assert all(p.gflops > 0 and p.params > 0 and p.ms >= 0 for p in parts)
    stage_flops = [p.gflops for p in parts[2:]]
    assert max(stage_flops) - min(stage_flops) < 1e-9  # identical stages cost the same
    assert sum(p.params for p in parts) == sum(x.numel() for x in drl.parameters()) + sum(
        x.numel() for x in enh.parameters()
    )
    assert "total with 4 stage(s)" in format_cost(parts, 32, 48)
