"""`deepfake-assets browse` says what is missing instead of failing obscurely."""

from __future__ import annotations

from deepfake_assets import cli


def test_browse_without_an_export_is_a_clear_error(data_env, capsys):
    assert cli.main(["browse", "--no-wait"]) == 2
    err = capsys.readouterr().err
    assert "no export at" in err and "materialize" in err
