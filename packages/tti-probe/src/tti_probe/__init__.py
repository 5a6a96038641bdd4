"""Text-to-image synthetic-data probe: the public API of ``tti_probe``."""

from tti_probe.__about__ import __version__
from tti_probe._analysis import (
    ISSUES,
    Analysis,
    AnalysisConfig,
    ClassReport,
    ModeSummary,
    TransferResult,
    analyze,
    transfer_study,
)
from tti_probe._analysis_ambiguity import (
    Collision,
    Modes,
    count_modes,
    nearest_rows,
    prompt_collisions,
)
from tti_probe._analysis_concept import ConceptOffsets, concept_offsets
from tti_probe._analysis_geometry import (
    Geometry,
    class_centroids,
    geometry,
    mean_pairwise_cosine,
    modality_gap,
)
from tti_probe._analysis_inputs import (
    ProbeData,
    ProbeInputError,
    as_embeddings,
    l2_normalize,
    load_npz,
    probe_data_from_sets,
    save_npz,
)
from tti_probe._analysis_sweep import Sweep, SweepCondition, SweepPoint, sweep
from tti_probe._classes import (
    ClassListError,
    ClassSpec,
    Sense,
    fashion_mnist_classes,
    load_classes,
    load_imagenet_classes,
)
from tti_probe._demo import (
    DemoResult,
    DetectionRow,
    detection_table,
    format_detection_table,
    run_demo,
    run_tiny_pipeline,
    simulated_sweep,
)
from tti_probe._embed import (
    ClipEmbedder,
    EmbeddedSet,
    EmbeddingError,
    embed_class_prompts,
    embed_image_folder,
    embed_images,
    embed_manifest,
    embed_texts,
)
from tti_probe._generate import GenerationConfig, GenerationError, generate, plan_images
from tti_probe._manifest import (
    ImageRecord,
    Manifest,
    ManifestError,
    load_manifest,
    rebuild_manifest,
)
from tti_probe._metrics_adherence import ZeroShot, clip_scores, cosine_matrix, zero_shot
from tti_probe._metrics_blocks import (
    KernelConfig,
    PairStatistics,
    pair_statistics,
    pair_statistics_many,
)
from tti_probe._metrics_diversity import Diversity, diversity
from tti_probe._metrics_fidelity import Fidelity, fidelity, fidelity_many, frechet_distance
from tti_probe._models import ModelLoadError, load_pipeline
from tti_probe._probe import (
    LinearProbe,
    MLPProbe,
    ProbeConfig,
    ProbeScore,
    TrainedProbe,
    score_probe,
    train_probe,
)
from tti_probe._prompts import (
    BUILTIN_STRATEGIES,
    Prompt,
    PromptError,
    PromptStrategy,
    clip_imagenet_templates,
    get_strategy,
    make_prompts,
    sense_prompts,
)
from tti_probe._report import (
    ImageLike,
    ReportImages,
    ReportPaths,
    analysis_to_dict,
    image_grid,
    images_from_folders,
    render_html,
    report_from_record,
    write_report,
)
from tti_probe._simulate import PLANTED_ORDER, SimulatedWorld, simulate
from tti_probe._testbed import (
    Testbed,
    TestbedError,
    default_testbed_dir,
    load_testbed,
    read_testbed_manifest,
    verify_testbed,
)
from tti_probe._testbed_study import (
    ConfusedPair,
    TestbedStudy,
    TestbedStudyConfig,
    confused_pairs,
    run_testbed_study,
)
from tti_probe._testbed_text import Caption, training_captions
from tti_probe._tiny import build_tiny_clip, build_tiny_pipeline


def __getattr__(name: str) -> object:
    """``tti_probe.TestbedPipeline``, imported lazily (it needs the ``hf`` extra)."""
    if name == "TestbedPipeline":
        from tti_probe._models import require

        require("diffusers")
        from tti_probe._testbed_pipeline import TestbedPipeline

        return TestbedPipeline
    raise AttributeError(f"module 'tti_probe' has no attribute {name!r}")


__all__ = [
    "BUILTIN_STRATEGIES",
    "ISSUES",
    "PLANTED_ORDER",
    "Analysis",
    "AnalysisConfig",
    "Caption",
    "ClassListError",
    "ClassReport",
    "ClassSpec",
    "ClipEmbedder",
    "Collision",
    "ConceptOffsets",
    "ConfusedPair",
    "DemoResult",
    "DetectionRow",
    "Diversity",
    "EmbeddedSet",
    "EmbeddingError",
    "Fidelity",
    "GenerationConfig",
    "GenerationError",
    "Geometry",
    "ImageLike",
    "ImageRecord",
    "KernelConfig",
    "LinearProbe",
    "MLPProbe",
    "Manifest",
    "ManifestError",
    "ModeSummary",
    "ModelLoadError",
    "Modes",
    "PairStatistics",
    "ProbeConfig",
    "ProbeData",
    "ProbeInputError",
    "ProbeScore",
    "Prompt",
    "PromptError",
    "PromptStrategy",
    "ReportImages",
    "ReportPaths",
    "Sense",
    "SimulatedWorld",
    "Sweep",
    "SweepCondition",
    "SweepPoint",
    "Testbed",
    "TestbedError",
    "TestbedStudy",
    "TestbedStudyConfig",
    "TrainedProbe",
    "TransferResult",
    "ZeroShot",
    "__version__",
    "analysis_to_dict",
    "analyze",
    "as_embeddings",
    "build_tiny_clip",
    "build_tiny_pipeline",
    "class_centroids",
    "clip_imagenet_templates",
    "clip_scores",
    "concept_offsets",
    "confused_pairs",
    "cosine_matrix",
    "count_modes",
    "default_testbed_dir",
    "detection_table",
    "diversity",
    "embed_class_prompts",
    "embed_image_folder",
    "embed_images",
    "embed_manifest",
    "embed_texts",
    "fashion_mnist_classes",
    "fidelity",
    "fidelity_many",
    "format_detection_table",
    "frechet_distance",
    "generate",
    "geometry",
    "get_strategy",
    "image_grid",
    "images_from_folders",
    "l2_normalize",
    "load_classes",
    "load_imagenet_classes",
    "load_manifest",
    "load_npz",
    "load_pipeline",
    "load_testbed",
    "make_prompts",
    "mean_pairwise_cosine",
    "modality_gap",
    "nearest_rows",
    "pair_statistics",
    "pair_statistics_many",
    "plan_images",
    "probe_data_from_sets",
    "prompt_collisions",
    "read_testbed_manifest",
    "rebuild_manifest",
    "render_html",
    "report_from_record",
    "run_demo",
    "run_testbed_study",
    "run_tiny_pipeline",
    "save_npz",
    "score_probe",
    "sense_prompts",
    "simulate",
    "simulated_sweep",
    "sweep",
    "train_probe",
    "training_captions",
    "transfer_study",
    "verify_testbed",
    "write_report",
    "zero_shot",
]
