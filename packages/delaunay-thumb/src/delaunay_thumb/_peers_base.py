"""Peer codecs for the benchmark: results, search settings and the downscale/quality search.

A *peer* is a codec we compare against at the same byte budget. Every peer gets the thumbnail
(the benchmark reference) as its input and must return a reconstruction of exactly that size.
Block codecs (WebP, AVIF, JPEG) cannot code a 64 or 128 px thumbnail in 200 bytes, so each is
given its best *downscale and quality search*: for each candidate downscaled size it takes the
largest quality whose output fits the budget, upsamples the decoded image back to the thumbnail
size, and the size with the lowest squared error against the thumbnail wins.

Example:
    >>> import numpy as np
    >>> from delaunay_thumb._peers import make_peer
    >>> thumb = np.full((16, 24, 3), 128, np.uint8)
    >>> result = make_peer("webp-file").encode(thumb, max_bytes=100)
    >>> result.nbytes <= 100, result.decoded.shape
    (True, (16, 24, 3))
"""

from __future__ import annotations

import abc
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from PIL import Image

from delaunay_thumb._metrics import Resample, fit_long_side, mse, resize, to_rgb_uint8


class PeerDecodeError(ValueError):
    """A peer's counted bytes could not be turned back into an image."""


@dataclass(frozen=True)
class PeerResult:
    """What a peer produced for one thumbnail at one budget.

    Attributes:
        codec: Name of the peer (e.g. ``"webp-file"``).
        data: Exactly the bytes that are counted; ``peer.decode(data, width, height)``
            reproduces ``decoded`` from them alone.
        decoded: The reconstruction at the thumbnail size, ``uint8`` of shape ``(H, W, 3)``.
        params: How it was made (downscaled size, quality, ...), for the report.
        encode_seconds: CPU seconds of the one encode that produced ``data``, where that is
            meaningful (our codec); ``None`` for the searched peers, whose search encodes many
            candidates.
    """

    codec: str
    data: bytes
    decoded: np.ndarray = field(repr=False)
    params: Mapping[str, int | str] = field(default_factory=dict)
    encode_seconds: float | None = None

    @property
    def nbytes(self) -> int:
        """Number of counted bytes."""
        return len(self.data)


@dataclass(frozen=True)
class SearchConfig:
    """Settings of the downscale and quality search of the block-codec peers.

    Attributes:
        min_side: Smallest longest side tried for the downscaled image, in pixels.
        coarse_step: Step between the longest sides tried in the coarse pass; ``0`` picks
            ``max(1, long_side // 32)`` (1 px at 32 px, 2 px at 64 px, 4 px at 128 px). A fine
            pass then tries every size within ``coarse_step - 1`` of the best coarse one.
        extra_probes: After the binary search for the largest quality that fits (which assumes
            size grows with quality), also try this many higher qualities, since the size is not
            strictly monotone in the quality.
        final_candidates: For peers with a slow, better encoder setting (AVIF), the number of
            best (size, variant) pairs of the fast search that are searched again, for the
            largest fitting quality, with the slow setting; the best of all is kept.
        upsample: Filter that brings the decoded image back to the thumbnail size. Lanczos and
            bicubic scored within 0.06 dB of each other (WebP file and JPEG at 64 and 128 px,
            200 bytes, the 9 benchmark images: bicubic +0.02 dB at 64 px, Lanczos +0.01 dB at
            128 px); Lanczos is the default, bilinear is worse.
    """

    min_side: int = 4
    coarse_step: int = 0
    extra_probes: int = 3
    final_candidates: int = 3
    upsample: Resample = "lanczos"

    def __post_init__(self) -> None:
        if self.min_side < 1:
            raise ValueError(f"min_side must be >= 1, got {self.min_side}")
        if self.coarse_step < 0:
            raise ValueError(f"coarse_step must be >= 0, got {self.coarse_step}")
        if self.final_candidates < 0:
            raise ValueError(f"final_candidates must be >= 0, got {self.final_candidates}")
        if self.extra_probes < 0:
            raise ValueError(f"extra_probes must be >= 0, got {self.extra_probes}")


class Peer(abc.ABC):
    """A codec compared against ours.

    Attributes:
        name: Short identifier used in tables (``"webp-file"``, ``"thumbhash"``, ...).
        label: Human-readable description for reports.
        budgeted: ``True`` if the peer searches for the best result within a byte budget;
            ``False`` for fixed-size codes (ThumbHash, BlurHash), which are reported at their
            own size.
    """

    name: str
    label: str
    budgeted: ClassVar[bool] = True

    @abc.abstractmethod
    def search(self, thumb: np.ndarray, budgets: Sequence[int]) -> dict[int, PeerResult | None]:
        """Best result within each budget (``None`` where nothing fits).

        Args:
            thumb: The thumbnail to code, ``uint8`` of shape ``(H, W, 3)``.
            budgets: Byte budgets; the counted bytes of each result are at most its budget.

        Returns:
            A mapping from each budget to its result.
        """

    @abc.abstractmethod
    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Reconstruct an image of ``width`` x ``height`` from the counted bytes alone.

        Raises:
            PeerDecodeError: ``data`` is not a valid stream of this peer.
        """

    def encode(self, thumb: np.ndarray, max_bytes: int) -> PeerResult | None:
        """Best result within ``max_bytes`` (``None`` if nothing fits).

        Example:
            >>> from delaunay_thumb._peers import make_peer
            >>> thumb = np.zeros((8, 8, 3), np.uint8)
            >>> make_peer("webp-file").encode(thumb, max_bytes=10) is None
            True
        """
        return self.search(thumb, [max_bytes])[max_bytes]


def _check_budgets(budgets: Sequence[int]) -> None:
    for budget in budgets:
        if not isinstance(budget, (int, np.integer)) or budget <= 0:
            raise ValueError(f"budgets must be positive integers, got {budget!r}")


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"output size must be positive, got {width}x{height}")


class RasterPeer(Peer):
    """A block codec coded at a downscaled size and upsampled back to the thumbnail size.

    Subclasses define the quality range, optional variants (e.g. chroma subsampling) that are
    searched alongside the quality, how one downscaled image is encoded into its counted bytes,
    and how those bytes are decoded back to the small image.

    Args:
        config: Search settings (defaults: :class:`SearchConfig`).
        variants: Restrict the search to these of the class's variants (default: all); the
            name then gets a suffix, e.g. ``"avif-payload-420"``.
    """

    qualities: ClassVar[range] = range(0, 101)
    all_variants: ClassVar[tuple[str, ...]] = ("",)

    def __init__(
        self, config: SearchConfig | None = None, variants: Sequence[str] | None = None
    ) -> None:
        self.config = config if config is not None else SearchConfig()
        if variants is not None:
            unknown = [v for v in variants if v not in self.all_variants]
            if unknown or not variants:
                raise ValueError(
                    f"{self.name} variants must be a non-empty subset of {self.all_variants},"
                    f" got {tuple(variants)}"
                )
        self.variants: tuple[str, ...] = (
            tuple(variants) if variants is not None else self.all_variants
        )
        if self.variants != self.all_variants:  # e.g. "avif-payload-420"
            suffix = "+".join(v.replace(":", "") for v in self.variants)
            self.name = f"{type(self).name}-{suffix}"

    #: Whether :meth:`encode_small` has a slower, better ``final`` mode (see
    #: :attr:`SearchConfig.final_candidates`).
    has_final_stage: ClassVar[bool] = False

    @abc.abstractmethod
    def encode_small(
        self, small: Image.Image, quality: int, variant: str, *, final: bool = False
    ) -> bytes:
        """Counted bytes of an RGB Pillow image at one quality and variant.

        ``final`` asks for the slower, better encoder setting of the final stage (ignored by
        peers without one).
        """

    @abc.abstractmethod
    def decode_small(self, data: bytes) -> Image.Image:
        """Decode counted bytes to the small RGB image (raise ``PeerDecodeError`` if invalid)."""

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Decode the small image and upsample it to ``width`` x ``height``.

        Raises:
            PeerDecodeError: ``data`` is not a valid stream of this peer.
        """
        _check_size(width, height)
        small = np.asarray(self.decode_small(bytes(data)).convert("RGB"))
        return resize(small, width, height, self.config.upsample)

    def search(self, thumb: np.ndarray, budgets: Sequence[int]) -> dict[int, PeerResult | None]:
        """Best downscale and largest fitting quality for each budget (see :class:`SearchConfig`).

        Encodings are cached across budgets, so searching several budgets at once is cheaper
        than one call per budget.
        """
        _check_budgets(budgets)
        return _RasterSearch(self, to_rgb_uint8(thumb)).run(budgets)


def pil_decode(data: bytes, expected_format: str) -> Image.Image:
    """Decode an image file with Pillow, mapping every failure to :class:`PeerDecodeError`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected_format:
                raise PeerDecodeError(f"expected {expected_format}, got {image.format}")
            image.load()
            return image.convert("RGB")
    except PeerDecodeError:
        raise
    except Exception as error:  # Pillow raises many types for corrupt data
        raise PeerDecodeError(f"cannot decode {expected_format} data: {error}") from error


class _RasterSearch:
    """One thumbnail's search state: caches of downscaled images and encodings."""

    def __init__(self, peer: RasterPeer, thumb: np.ndarray) -> None:
        self.peer = peer
        self.thumb = thumb
        self.height, self.width = thumb.shape[:2]
        self.long_side = max(self.width, self.height)
        self._small: dict[int, Image.Image] = {}
        self._bytes: dict[tuple[int, str, int, bool], bytes] = {}

    def small(self, side: int) -> Image.Image:
        if side not in self._small:
            width, height = fit_long_side(self.width, self.height, side)
            self._small[side] = Image.fromarray(resize(self.thumb, width, height, "lanczos"))
        return self._small[side]

    def encoded(self, side: int, variant: str, quality: int, final: bool) -> bytes:
        key = (side, variant, quality, final)
        if key not in self._bytes:
            small = self.small(side)
            self._bytes[key] = self.peer.encode_small(small, quality, variant, final=final)
        return self._bytes[key]

    def largest_quality(self, side: int, variant: str, budget: int, final: bool) -> int | None:
        qualities = self.peer.qualities
        low, high = qualities[0], qualities[-1]

        def fits(quality: int) -> bool:
            return len(self.encoded(side, variant, quality, final)) <= budget

        if not fits(low):
            return None
        if fits(high):
            return high
        while high - low > 1:  # invariant: fits(low) and not fits(high)
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        best = low
        last = min(low + 1 + self.peer.config.extra_probes, qualities[-1])
        for quality in range(low + 2, last + 1):
            if fits(quality):
                best = quality
        return best

    def candidate(
        self, side: int, variant: str, budget: int, final: bool
    ) -> tuple[float, PeerResult] | None:
        quality = self.largest_quality(side, variant, budget, final)
        if quality is None:
            return None
        data = self.encoded(side, variant, quality, final)
        decoded = self.peer.decode(data, self.width, self.height)
        small = self.small(side)
        params: dict[str, int | str] = {
            "width": small.width,
            "height": small.height,
            "quality": quality,
        }
        if variant:
            params["variant"] = variant
        if final:
            params["stage"] = "final"
        return mse(self.thumb, decoded), PeerResult(self.peer.name, data, decoded, params)

    def best_for(self, budget: int) -> PeerResult | None:
        config = self.peer.config
        step = config.coarse_step or max(1, self.long_side // 32)
        first = min(config.min_side, self.long_side)
        coarse = list(range(first, self.long_side + 1, step))
        if coarse[-1] != self.long_side:
            coarse.append(self.long_side)
        found: dict[tuple[int, str], tuple[float, PeerResult]] = {}

        def evaluate(side: int) -> bool:
            """Score every variant at ``side``; False if none fits."""
            any_fit = False
            for variant in self.peer.variants:
                scored = self.candidate(side, variant, budget, final=False)
                if scored is not None:
                    found[(side, variant)] = scored
                    any_fit = True
            return any_fit

        misses = 0
        tried = set()
        for side in coarse:
            tried.add(side)
            misses = 0 if evaluate(side) else misses + 1
            if misses >= 2 and found:
                break  # the smallest quality no longer fits: larger sizes will not either
        if not found:
            return None
        centre = min(found, key=lambda key: found[key][0])[0]
        for side in range(
            max(first, centre - step + 1), min(self.long_side, centre + step - 1) + 1
        ):
            if side not in tried:
                tried.add(side)
                evaluate(side)
        ranked = sorted(found, key=lambda key: found[key][0])
        best = found[ranked[0]]
        if self.peer.has_final_stage:
            for side, variant in ranked[: config.final_candidates]:
                scored = self.candidate(side, variant, budget, final=True)
                if scored is not None and scored[0] < best[0]:
                    best = scored
        return best[1]

    def run(self, budgets: Sequence[int]) -> dict[int, PeerResult | None]:
        return {int(budget): self.best_for(int(budget)) for budget in budgets}
