"""Audio, video and fusion models.

    from mmlib.models import build_model
    model = build_model("matchmap", n_classes=4, audio_frames=300)
"""

from mmlib.models.audio import AudioCNN
from mmlib.models.fusion import HEADS, EmotionModel, build_model
from mmlib.models.video import VideoEncoder, build_video_encoder

__all__ = ["AudioCNN", "EmotionModel", "HEADS", "VideoEncoder", "build_model", "build_video_encoder"]
