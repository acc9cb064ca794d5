"""Synthetic IEMOCAP: a corpus in IEMOCAP_full_release's exact layout whose answers are known.

IEMOCAP is licensed, so the study runs by default on this stand-in. It is built so the study's
question has an answer: the voice carries arousal (pitch level and range, loudness, speaking rate,
voice quality), the face carries valence (mouth curvature, brows), each leaks only a weak cue of
the other, so only their combination separates ang / hap / sad / neu. Weak expressions drift toward
neutral and a share of labels disagree with what is expressed, so no model reaches 100 %.
How much each modality shows is a knob (synth.voice_expressiveness, synth.face_expressiveness:
1 = as planned, 0 = neutral), and so is how often it shows the expressed emotion at all
(synth.voice_reliability, synth.face_reliability: at r the others show another utterance's expression,
which removes information smoothly; plan.py says why); changing one knob leaves the other modality's
files byte-identical.

    from mmlib.data.synthetic import SYNTH_PROFILES, generate_corpus
    root = generate_corpus("data/synth-quick", SYNTH_PROFILES["quick"])
    # root = data/synth-quick/IEMOCAP_full_release; ground truth: data/synth-quick/truth.csv

    python -m mmlib.data.synthetic data/synth-quick --profile quick

The settings (SynthConfig, SYNTH_PROFILES) live in mmlib.config, re-exported here.
Three ideas, three modules: plan.py (who speaks when, labels, expression: drawn up front, cheap),
voice.py (the voice of one utterance), face.py (the faces of one dialog video); write.py renders
each dialog from its own rng keyed by (seed, dialog), so the parallel result is byte-identical to
the serial one.
"""

from mmlib.config import CODES4, OTHER_CODES, SYNTH_PROFILES, SynthConfig  # re-exported: the config owns them
from mmlib.data.synthetic.face import FACE_BOX, draw_face, render_video
from mmlib.data.synthetic.plan import (
                                       BASE,
                                       NEUTRAL,
                                       TARGETS,
                                       code_counts,
                                       dialog_names,
                                       modality_expression,
                                       plan_corpus,
                                       speaker_params,
)
from mmlib.data.synthetic.voice import synth_voice, voice_plan, voice_wave
from mmlib.data.synthetic.write import ROOT_NAME, generate_corpus, main, render_dialog

__all__ = ["BASE", "CODES4", "FACE_BOX", "NEUTRAL", "OTHER_CODES", "ROOT_NAME", "SYNTH_PROFILES", "TARGETS",
           "SynthConfig", "code_counts", "dialog_names", "draw_face", "generate_corpus", "main",
           "modality_expression", "plan_corpus", "render_dialog", "render_video", "speaker_params",
           "synth_voice", "voice_plan", "voice_wave"]
