"""The analysis ignores sound (issue 17, item 3): a clip with a sound track measures as the same
pictures without one."""

from __future__ import annotations

import av
import pytest

from studio.core.metrics import analyze
from tests.media_factory import make_video


def _without_sound(source, dest):
    """``source``'s video packets copied into ``dest`` as they are (no re-encoding): the same
    pictures, bit for bit, with no sound track."""
    with av.open(str(source)) as src, av.open(str(dest), "w") as out:
        video = src.streams.video[0]
        copy = out.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    return dest


def test_a_sound_track_changes_no_measure(tmp_path):
    loud = make_video(tmp_path / "loud.mp4", frames=12, fps=24, audio=True,
                      audio_levels=(0.9, 0.1))
    silent = _without_sound(loud, tmp_path / "silent.mp4")
    with av.open(str(loud)) as container:
        assert container.streams.audio  # the clip does carry sound
    with av.open(str(silent)) as container:
        assert not container.streams.audio
    with_sound, without = analyze(loud), analyze(silent)
    assert len(with_sound.pairs) == len(without.pairs) == 11
    for a, b in zip(with_sound.pairs, without.pairs, strict=True):
        # the same pictures (copied, not encoded twice: two encodes differed in the 4th digit
        # in a CI run): the same measures, OpenCV's threads may move the 10th digit
        assert a.to_dict() == pytest.approx(b.to_dict(), rel=1e-9, abs=1e-12)
