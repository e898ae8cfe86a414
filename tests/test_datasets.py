import gzip

import numpy as np
import pytest
from fmitwin.datasets import (
    CMAPSS_COLUMNS,
    CMAPSS_SENSORS,
    CMAPSS_SETTINGS,
    cmapss_histories,
    cmapss_readme,
    load_cmapss,
    read_cmapss,
    shipped_cmapss_path,
    training_rul,
)


def test_shipped_fd001_training_rows_and_units():
    train = load_cmapss("train")
    assert list(train.columns) == CMAPSS_COLUMNS
    assert len(train) == 20631
    assert train["unit"].nunique() == 100
    # every training unit starts at cycle 1 and runs to failure (RUL 0 at its last cycle)
    assert (train.groupby("unit")["cycle"].min() == 1).all()
    rul = training_rul(train)
    assert (rul.groupby(train["unit"]).min() == 0).all()
    assert rul.iloc[0] == train.loc[train["unit"] == 1, "cycle"].max() - 1


def test_shipped_fd001_test_split_and_readme():
    test = load_cmapss("test")
    assert len(test) == 13096
    assert test["unit"].nunique() == 100
    assert "Saxena" in cmapss_readme()


def test_plain_and_gzip_files_read_identically(tmp_path):
    plain = tmp_path / "train_FD001.txt"
    plain.write_bytes(gzip.decompress(shipped_cmapss_path("train").read_bytes()))
    assert read_cmapss(plain).equals(load_cmapss("train"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("1 1 0 0 100\n", "has 5 columns"),
        ("1 1 " + "nan " * 24 + "\n", "NaN"),
        ("1 2 " + "0 " * 24 + "\n1 1 " + "0 " * 24 + "\n", "not strictly increasing"),
        ("1 x " + "0 " * 24 + "\n", "not a table of numbers"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        read_cmapss(path)
    assert "bad.txt" in str(error.value)


def test_missing_file_and_unknown_split():
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        read_cmapss("nowhere.txt")
    with pytest.raises(ValueError, match="split"):
        shipped_cmapss_path("validation")
    with pytest.raises(ValueError, match="FD002"):
        shipped_cmapss_path("train", "FD002")


def test_values_round_trip_exactly():
    train = load_cmapss("train")
    first = train.iloc[0]
    assert first["unit"] == 1 and first["cycle"] == 1
    np.testing.assert_allclose(first["s2"], 641.82)
    np.testing.assert_allclose(first["s21"], 23.4190)


def test_cmapss_histories_are_the_rul_model_input():
    frame = load_cmapss("test")
    histories = cmapss_histories(frame)
    assert list(histories) == list(range(1, 101))
    cycles, values = histories[7]
    unit = frame[frame["unit"] == 7]
    assert values.shape == (len(unit), 24)  # 3 settings, then 21 sensors
    np.testing.assert_array_equal(cycles, unit["cycle"].to_numpy(dtype=float))
    np.testing.assert_array_equal(values[:, :3], unit[CMAPSS_SETTINGS].to_numpy())
    np.testing.assert_array_equal(values[:, 3:], unit[CMAPSS_SENSORS].to_numpy())
