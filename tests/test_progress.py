"""Progress bars say what they do when everything comes from the cache."""

from mmlib.data.features import _run


def test_all_cached_bar_says_so(capsys):
    assert list(_run([], None, 1, True, "log-mel", 0, 521)) == []
    assert capsys.readouterr().err.strip("\r\n ").split("\r")[-1] == "log-mel: 521 cached"


def test_partly_cached_bar_counts_both(capsys):
    assert list(_run([1, 2], lambda t: t * 10, 1, True, "face clips", 2, 519)) == [10, 20]
    last = capsys.readouterr().err.strip("\r\n ").split("\r")[-1]
    assert last.startswith("face clips: 100%") and "2/2" in last and last.endswith("519 cached]")
