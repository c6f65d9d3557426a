"""The Generate panel shows LTX-2's memory plan before the run (issue 17, item 4): its cost line
weighs the most frugal settings automatic ones may take with the transformer and Gemma text
encoder in fp8, and the Advanced section offers group offload, which goes into the run's
settings."""

from __future__ import annotations

from studio.core.params import GenerationParams


def test_the_cost_line_of_ltx2_names_its_fp8_and_offload_settings(qtbot, panels):
    prompt, _ = panels
    prompt.apply_params(GenerationParams.defaults("Lightricks/LTX-2", prompt="a dog barks"))
    text = prompt.cost_label.text()
    # everything on the GPU in bf16 (its two stages: the latent upsampler's 1 GB resident
    # beside the rest), then the most frugal: sequential offload, fp8 weights
    assert text.startswith("2 passes: 384×256 (30 steps), then 768×512 (upsampled, 3 steps)")
    assert "peak memory ≈ 68.2 GB, 4.0 GB with sequential CPU offload, VAE tiling, fp8 " \
        "transformer, fp8 text encoder (estimates; the automatic settings follow" in text, text
    prompt.offload.setCurrentIndex(prompt.offload.findData("group"))
    assert prompt.offload.currentText() == "Group offload"
    qtbot.waitUntil(lambda: "5.5 GB with group offload" in prompt.cost_label.text())
    assert "group offload, VAE tiling, fp8 transformer, fp8 text encoder" in \
        prompt.cost_label.text()
    assert prompt.params().offload == "group"
    assert "offload group" in prompt.advanced_summary.text()
