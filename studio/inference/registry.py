"""Models Studio knows: id, kind, the class that loads it, and its defaults.

Ids are hub ids ("HuggingFaceTB/SmolVLM2-256M-Video-Instruct"); demo models built offline by
``studio models make-demo`` have ids under ``demo/`` and random weights. Anything made with a
demo model is labelled "demo model: random weights".
"""

from __future__ import annotations

from typing import NamedTuple

DEMO_PREFIX = "demo/"
DEMO_LABEL = "demo model: random weights"


class SingleFile(NamedTuple):  # NamedTuples: made faster than dataclasses at start-up
    """Weights published as one checkpoint in the original (non-diffusers) layout:
    ``filename`` in the hub repo ``repo``. The pipeline's other parts (text encoder, tokenizer,
    scheduler), its model_index.json and every component's config.json come from ``base``, a
    repo in the diffusers layout. ``components``: the pipeline components whose weights the
    file holds; their weights in ``base`` are not downloaded."""

    repo: str
    filename: str
    base: str
    components: tuple[str, ...] = ("transformer", "vae")


class UpsamplerFile(NamedTuple):
    """A latent upsampler published as one checkpoint in the original layout (Lightricks'
    ``LatentUpsampler``, whose weights diffusers' ``LTXLatentUpsamplerModel`` takes under the
    same names): ``filename`` in the hub repo ``repo``. Fetched by `studio models pull` with the
    generator; used by its multi-scale recipe (core.params.MultiScale)."""

    repo: str
    filename: str


class LoraFile(NamedTuple):
    """A LoRA published as one file: ``filename`` in the hub repo ``repo``. Studio looks for it
    in the model's folder, then in the Hugging Face cache; it never downloads it by itself."""

    repo: str
    filename: str


class ModelSpec(NamedTuple):
    id: str
    kind: str  # "captioner" | "generator"
    title: str
    loader: str  # the transformers / diffusers class that loads it
    defaults: dict  # never changed: copy it to change it
    size_gb: float = 0.0  # download size, roughly, for `studio models list`
    single_file: SingleFile | None = None  # None: the id is a hub repo in the diffusers layout
    upsampler: UpsamplerFile | None = None  # the latent upsampler of its multi-scale recipe
    # the distilled LoRA stage 2 of a dev model's two-stage recipe runs with (LTX-2)
    distilled_lora: LoraFile | None = None

    @property
    def demo(self) -> bool:
        return self.id.startswith(DEMO_PREFIX)


# Download sizes: the weights as published (fp32 safetensors: 1.03, 2.03 and 4.96 + 4.03 GB on
# the hub's file listings), without the repos' onnx/ folders, which Studio does not fetch.
CAPTIONERS = (
    ModelSpec("HuggingFaceTB/SmolVLM2-256M-Video-Instruct", "captioner", "SmolVLM2 256M (video)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 1.0),
    ModelSpec("HuggingFaceTB/SmolVLM2-500M-Video-Instruct", "captioner", "SmolVLM2 500M (video)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 2.0),
    ModelSpec("HuggingFaceTB/SmolVLM2-2.2B-Instruct", "captioner", "SmolVLM2 2.2B",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 9.0),
    ModelSpec("demo/smolvlm2-tiny", "captioner", "Demo captioner (tiny, random weights)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 24}, 0.0),
)

DEFAULT_CAPTIONER = CAPTIONERS[0].id

# Video generators. Most are hub repos in the diffusers layout (model_index.json + component
# folders), loaded with ``from_pretrained``; ``loader`` is the class in the repo's model_index.json.
# LTX-Video's other modes come from the same weights through ``from_pipe``. Defaults are the model
# cards' (and diffusers' docs): distilled LTX checkpoints 8 steps at guidance 1 (the docs' own
# timesteps for them, below), decode_timestep 0.05 and decode_noise_scale 0.025 for LTX-Video
# 0.9.1+ (its VAE is timestep-conditioned).
#
# Lightricks publishes LTX-Video 2B distilled (0.9.6, 0.9.8) only as single-file checkpoints in
# the original layout, beside the other releases in Lightricks/LTX-Video. That entry's id names
# the repo and the file ("repo:file", not a hub repo of its own); the transformer and the VAE
# come from the file through diffusers' ``from_single_file``, everything else, and the configs,
# from LTX-Video 0.9.5's diffusers repo: the config diffusers itself picks for a 2B checkpoint
# with this VAE (single_file_utils.infer_diffusers_model_type: "ltx-video-0.9.5").
_LTX = {"negative_prompt": "worst quality, inconsistent motion, blurry, jittery, distorted",
        "width": 768, "height": 512, "num_frames": 121, "fps": 24.0,
        "decode_timestep": 0.05, "decode_noise_scale": 0.025, "frame_step": 8,
        "size_multiple": 32}
# diffusers' LTX-Video docs, for the guidance- and timestep-distilled 0.9.7 and 0.9.8 models (the
# first pass: 8 steps). Used when a run takes 8 steps; distilled models run every mode through
# LTXConditionPipeline, so the schedule applies to each. The docs' distilled examples also pass
# image_cond_noise_scale 0.0 and guidance_rescale 0.7 to every call ("call_kwargs").
# (core.params.LTX_DISTILLED_TIMESTEPS too, for the multi-scale recipe; a test holds them equal:
# importing core.params here would put its import on the window's start-up)
LTX_DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)
_LTX_DISTILLED = {"steps": 8, "guidance_scale": 1.0, "timesteps": LTX_DISTILLED_TIMESTEPS,
                  "call_kwargs": {"image_cond_noise_scale": 0.0, "guidance_rescale": 0.7}}
# Lightricks' spatial upscaler for 0.9.8 (a copy of 0.9.7's, 505 MB, fp32), in the original
# layout beside the checkpoints; the configs ltxv-2b-0.9.8-distilled.yaml and
# ltxv-13b-0.9.8-distilled.yaml both name it.
LTX_098_UPSAMPLER = UpsamplerFile("Lightricks/LTX-Video", "ltxv-spatial-upscaler-0.9.8.safetensors")
# LTX-2 (video and sound; diffusers pipelines/ltx2). Rules and their sources: core.params
# (LTX2_DEV and below). Call settings, from diffusers' LTX2Pipeline.__call__ docs: LTX-2.3's
# suggested guidance is 3.0 for video, 7.0 for audio, STG 1.0 at block 28 (29 for LTX-2.0),
# modality guidance 3.0, guidance rescale 0.7 (its defaults); use_cross_timestep False is "the
# legacy LTX-2.0 behavior". Distilled checkpoints run with no guidance of any kind on diffusers'
# DISTILLED_SIGMA_VALUES (ltx2/utils.py, from Lightricks' ltx-pipelines constants).
# (the negative prompt is core.params.LTX2_NEGATIVE_PROMPT, the rules' default)
_LTX2 = {"width": 768, "height": 512,
         "num_frames": 121, "fps": 24.0, "steps": 30, "guidance_scale": 3.0, "frame_step": 8,
         "size_multiple": 32, "audio": True}
_LTX2_GUIDANCE = {"audio_guidance_scale": 7.0, "stg_scale": 1.0, "audio_stg_scale": 1.0,
                  "modality_scale": 3.0, "audio_modality_scale": 3.0, "guidance_rescale": 0.7,
                  "audio_guidance_rescale": 0.7}
LTX2_NO_GUIDANCE = {"audio_guidance_scale": 1.0, "stg_scale": 0.0, "audio_stg_scale": 0.0,
                    "modality_scale": 1.0, "audio_modality_scale": 1.0}
LTX2_DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875)
# The dev models' two stages (core.params.LTX2_DEV_TWO_STAGE) run stage 2 with Lightricks'
# distilled LoRA: LTX-2 19B's at the root of Lightricks/LTX-2 (diffusers' LTX-2 docs, "Two-stages
# Generation": load_lora_weights("Lightricks/LTX-2", weight_name="ltx-2-19b-distilled-lora-384.
# safetensors")); LTX-2.3 22B's in Lightricks/LTX-2.3 (Lightricks' MODELS-LTX-2.3.md, "Distilled
# LoRA - Required for the two-stage pipeline implementations": ltx-2.3-22b-distilled-lora-384-
# 1.1.safetensors, the original layout, which diffusers' LTX2 LoRA loader converts).
LTX2_DISTILLED_LORA = LoraFile("Lightricks/LTX-2", "ltx-2-19b-distilled-lora-384.safetensors")
LTX2_3_DISTILLED_LORA = LoraFile("Lightricks/LTX-2.3",
                                 "ltx-2.3-22b-distilled-lora-384-1.1.safetensors")
# Download sizes are estimates from parameter counts in bf16 (transformer 19B/22B, Gemma 3 12B
# 24 GB, VAEs and vocoder about 3 GB): Studio has read no file listing of these repos. The
# latent upsampler of the two-stage recipe is the model folder's latent_upsampler/ (Lightricks/
# LTX-2's, LTX2LatentUpsamplePipeline's docstring example).
LTX2_GENERATORS = (
    ModelSpec("Lightricks/LTX-2", "generator", "LTX-2 19B (video with sound)", "LTX2Pipeline",
              {**_LTX2, "call_kwargs": {**_LTX2_GUIDANCE,
                                        "spatio_temporal_guidance_blocks": [29],
                                        "use_cross_timestep": False},
               "latent_upsampler": {"repo": "Lightricks/LTX-2",
                                    "subfolder": "latent_upsampler"}}, 65.0,
              distilled_lora=LTX2_DISTILLED_LORA),
    ModelSpec("diffusers/LTX-2.3-Diffusers", "generator", "LTX-2.3 22B (video with sound)",
              "LTX2Pipeline",
              {**_LTX2, "call_kwargs": {**_LTX2_GUIDANCE,
                                        "spatio_temporal_guidance_blocks": [28]}}, 71.0,
              distilled_lora=LTX2_3_DISTILLED_LORA),
    ModelSpec("diffusers/LTX-2.3-Distilled-Diffusers", "generator",
              "LTX-2.3 22B distilled (video with sound)", "LTX2Pipeline",
              {**_LTX2, "steps": 8, "guidance_scale": 1.0,
               "call_kwargs": {**LTX2_NO_GUIDANCE, "sigmas": list(LTX2_DISTILLED_SIGMAS)}},
              71.0),
)
LTX_2B_DISTILLED_ID = "Lightricks/LTX-Video:ltxv-2b-0.9.8-distilled"
GENERATORS = (
    ModelSpec(LTX_2B_DISTILLED_ID, "generator", "LTX-Video 2B distilled (0.9.8)",
              "LTXConditionPipeline", {**_LTX, **_LTX_DISTILLED},
              # the file 6.34 GB, 0.9.5's T5-XXL text encoder 19 GB (four fp32 shards: 4.99, 5,
              # 4.87 and 4.19 GB), the upsampler 0.505 GB (the hub's file listings)
              25.9,
              single_file=SingleFile("Lightricks/LTX-Video", "ltxv-2b-0.9.8-distilled.safetensors",
                                     base="Lightricks/LTX-Video-0.9.5"),
              upsampler=LTX_098_UPSAMPLER),
    # not distilled: the full model. Its text encoder is 19 GB (hub listing); the transformer
    # and VAE, about 10 GB, are an estimate (fp32, as the 0.9.0/0.9.1 diffusers repos store
    # them: 7.7 GB and 1.7-2.5 GB)
    ModelSpec("Lightricks/LTX-Video-0.9.5", "generator", "LTX-Video 2B dev (0.9.5)",
              "LTXConditionPipeline", {**_LTX, "steps": 40, "guidance_scale": 3.0}, 29.0),
    # 13B: transformer six bf16 shards, 26.1 GB (0.9.7's listing; 0.9.8 has the same shapes),
    # text encoder 19 GB, VAE about 2.5 GB, the upsampler 0.5 GB
    ModelSpec("Lightricks/LTX-Video-0.9.8-13B-distilled", "generator",
              "LTX-Video 13B distilled (0.9.8)", "LTXConditionPipeline",
              {**_LTX, **_LTX_DISTILLED}, 48.0, upsampler=LTX_098_UPSAMPLER),
    ModelSpec("Lightricks/LTX-Video-0.9.7-dev", "generator", "LTX-Video 13B dev (0.9.7)",
              "LTXConditionPipeline", {**_LTX, "steps": 30, "guidance_scale": 3.0}, 47.6),
    # THUDM's repos moved to zai-org on the hub; the hub redirects the old id.
    ModelSpec("THUDM/CogVideoX-2b", "generator", "CogVideoX 2B", "DiffusionPipeline",
              # float16 on CUDA, as its model card recommends for the 2B (bf16 for the 5B)
              {"negative_prompt": "", "width": 720, "height": 480, "num_frames": 49, "fps": 8.0,
               "steps": 50, "guidance_scale": 6.0, "frame_step": 4, "size_multiple": 16,
               "cuda_dtype": "float16"},
              13.8),  # the hub's total for the repo (text encoder 9.5 GB, transformer 3.39 GB)
    ModelSpec("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "generator", "Wan 2.1 text-to-video 1.3B",
              "DiffusionPipeline",
              # the VAE in float32, the rest in bf16, as diffusers' Wan docs load it
              {"width": 832, "height": 480, "num_frames": 81, "fps": 16.0, "steps": 50,
               "guidance_scale": 5.0, "frame_step": 4, "size_multiple": 16,
               "component_dtypes": {"vae": "float32"}},
              # UMT5-XXL text encoder 22.7 GB and transformer 5.68 GB (fp32, hub listings),
              # VAE about 0.5 GB
              29.0),
    *LTX2_GENERATORS,
    ModelSpec("demo/ltx2-tiny", "generator", "Demo LTX-2 with sound (tiny, random weights)",
              "LTX2Pipeline",
              {**_LTX2, "width": 64, "height": 64, "num_frames": 9, "steps": 4,
               "guidance_scale": 1.0, "frame_step": 4, "call_kwargs": LTX2_NO_GUIDANCE}, 0.0),
    # the same with a tiny distilled LoRA in its folder (demo_ltx2.make_demo_ltx2_dev): the dev
    # models' two-stage recipe (core.params.DEMO_LTX2_DEV), stage 1 with a dev model's guidance,
    # STG at the tiny transformer's last block (LTX-2's: 29 of 48)
    ModelSpec("demo/ltx2-dev-tiny", "generator",
              "Demo LTX-2 dev with sound (tiny, random weights)", "LTX2Pipeline",
              {**_LTX2, "width": 64, "height": 64, "num_frames": 9, "steps": 4,
               "guidance_scale": 3.0, "frame_step": 4,
               "call_kwargs": {**_LTX2_GUIDANCE, "spatio_temporal_guidance_blocks": [1]}}, 0.0),
    ModelSpec("demo/ltx-video-tiny", "generator", "Demo LTX-Video (tiny, random weights)",
              "LTXPipeline",
              {**_LTX, "width": 64, "height": 64, "num_frames": 9, "steps": 4,
               "guidance_scale": 1.0, "frame_step": 4}, 0.0),
)

DEFAULT_GENERATOR = GENERATORS[0].id



MODELS: dict[str, ModelSpec] = {m.id: m for m in (*CAPTIONERS, *GENERATORS)}


def get(model_id: str) -> ModelSpec | None:
    """The registry entry for ``model_id``, or None (a local folder or an unknown hub id)."""
    return MODELS.get(model_id)


def models(kind: str | None = None) -> list[ModelSpec]:
    return [m for m in MODELS.values() if kind is None or m.kind == kind]
