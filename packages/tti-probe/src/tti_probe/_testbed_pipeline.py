"""The testbed's pixel-space text-to-image pipeline, a standard diffusers ``DiffusionPipeline``.

Parts: a ``CLIPTokenizer`` and ``CLIPTextModel`` (the text tower of the testbed CLIP, frozen
while the UNet was trained), a ``UNet2DConditionModel`` that denoises greyscale images directly
in pixel space (no VAE) while attending to the text encoder's hidden states, and a diffusers
scheduler. Classifier-free guidance mixes the UNet's prediction for the empty prompt (or
``negative_prompt``) with the one for the prompt, as Stable Diffusion does.

It saves with ``save_pretrained`` and loads with ``TestbedPipeline.from_pretrained(directory,
local_files_only=True)``; :func:`tti_probe.load_pipeline` recognises its ``model_index.json``,
so tti-probe's generation runs on it exactly as on Stable Diffusion.

This module imports torch and diffusers: import it only through the ``hf`` extra (tti-probe
does so lazily).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers.pipelines.pipeline_utils import DiffusionPipeline, ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor


def _as_list(prompt: str | list[str], what: str) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if not isinstance(prompt, list | tuple) or not all(isinstance(p, str) for p in prompt):
        raise TypeError(f"{what} must be a string or a list of strings, got {type(prompt)}")
    return list(prompt)


class TestbedPipeline(DiffusionPipeline):
    """Text-to-image in pixel space: CLIP text encoder + conditional UNet + scheduler.

    Args:
        unet: A ``UNet2DConditionModel`` with one input and one output channel whose
            ``cross_attention_dim`` is the text encoder's width.
        scheduler: A diffusers scheduler (the shipped testbed uses ``DDIMScheduler``).
        text_encoder: A ``transformers.CLIPTextModel``.
        tokenizer: The matching ``transformers.CLIPTokenizer``.

    Example:
        >>> from tti_probe import load_testbed
        >>> pipe = load_testbed().pipeline
        >>> out = pipe("a photo of a Sneaker.", num_inference_steps=4, output_type="np")
        >>> out.images.shape
        (1, 28, 28, 1)
    """

    model_cpu_offload_seq = "text_encoder->unet"  # type: ignore[assignment]

    def __init__(self, unet: Any, scheduler: Any, text_encoder: Any, tokenizer: Any) -> None:
        super().__init__()
        self.register_modules(
            unet=unet, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
        )

    @torch.no_grad()
    def encode_prompt(self, prompts: list[str]) -> torch.Tensor:
        """The text encoder's last hidden states of ``prompts``, ``(n, max_tokens, width)``."""
        tokens = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        ids = tokens.input_ids.to(self.text_encoder.device)
        states: torch.Tensor = self.text_encoder(input_ids=ids).last_hidden_state
        return states.to(self.unet.dtype)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 25,
        guidance_scale: float = 2.0,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> Any:
        """Generate one greyscale image per prompt (times ``num_images_per_prompt``).

        Args:
            prompt: A prompt or a list of prompts.
            height: Image height (default: the UNet's ``sample_size``); a multiple of 4.
            width: Image width (default: the UNet's ``sample_size``); a multiple of 4.
            num_inference_steps: Denoising steps of the scheduler.
            guidance_scale: Classifier-free guidance scale; ``<= 1`` runs the prompt alone.
            negative_prompt: Replaces the empty prompt of guidance (one, or one per prompt).
            num_images_per_prompt: Images per prompt.
            generator: A torch generator, or one per image (as Stable Diffusion takes them).
            output_type: ``"pil"`` (mode ``L`` images), ``"np"`` (``(n, h, w, 1)`` floats in
                [0, 1]) or ``"pt"`` (``(n, 1, h, w)`` tensor in [0, 1]).
            return_dict: Return an ``ImagePipelineOutput`` (else a one-element tuple).

        Raises:
            ValueError: Bad sizes, step count, image count, output type, or as many generators
                as images.
        """
        prompts = _as_list(prompt, "prompt")
        if num_images_per_prompt < 1:
            raise ValueError(f"num_images_per_prompt must be >= 1, got {num_images_per_prompt}")
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        size = int(self.unet.config.sample_size)
        height, width = height or size, width or size
        if height % 4 or width % 4 or height < 4 or width < 4:
            raise ValueError(f"height and width must be positive multiples of 4: {height}x{width}")
        prompts = [p for p in prompts for _ in range(num_images_per_prompt)]
        count = len(prompts)
        if isinstance(generator, list) and len(generator) != count:
            raise ValueError(f"got {len(generator)} generators for {count} images")
        guided = guidance_scale > 1.0
        states = self.encode_prompt(prompts)
        if guided:
            negatives = _as_list(negative_prompt if negative_prompt is not None else "", "negative")
            if len(negatives) == 1:
                negatives = negatives * count
            elif len(negatives) * num_images_per_prompt == count:
                negatives = [n for n in negatives for _ in range(num_images_per_prompt)]
            else:
                raise ValueError(f"got {len(negatives)} negative prompts for {count} images")
            states = torch.cat([self.encode_prompt(negatives), states])
        sample = randn_tensor(
            (count, 1, height, width),
            generator=generator,
            device=self.unet.device,
            dtype=self.unet.dtype,
        )
        self.scheduler.set_timesteps(num_inference_steps, device=self.unet.device)
        sample = sample * self.scheduler.init_noise_sigma
        for t in self.progress_bar(self.scheduler.timesteps):
            model_input = torch.cat([sample, sample]) if guided else sample
            model_input = self.scheduler.scale_model_input(model_input, t)
            noise = self.unet(model_input, t, encoder_hidden_states=states).sample
            if guided:
                unconditional, conditional = noise.chunk(2)
                noise = unconditional + guidance_scale * (conditional - unconditional)
            sample = self.scheduler.step(noise, t, sample).prev_sample
        images = (sample.float() / 2 + 0.5).clamp(0, 1)
        output: Any = images.cpu()
        if output_type != "pt":
            output = images.cpu().permute(0, 2, 3, 1).numpy()
            if output_type == "pil":
                output = self.numpy_to_pil(np.asarray(output))
        self.maybe_free_model_hooks()
        if not return_dict:
            return (output,)
        return ImagePipelineOutput(images=output)
