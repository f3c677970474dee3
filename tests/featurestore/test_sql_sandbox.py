"""Contract SQL runs sandboxed: a planted hostile or mistaken SQL file is refused or fails as one `Error:`
line (version, file, line and column in the file, DuckDB's message, exit 13), with the store and every
file outside it untouched."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.online import featurize_window
from featurestore.compute.pipeline import run_pipeline
from featurestore.compute.sql_sandbox import open_sandbox
from featurestore.errors import ContractSqlError
from featurestore.store.handle import DB_FILE
from tests.cli_checks import assert_exit
from tests.conftest import SYNTH_END, SYNTH_START
from tests.featurestore.planted_sql import NAME, SNAP_FILE, files_under, plant, store_state

runner = CliRunner()
RANGE = "2025-02-03..2025-02-14"
CONTRACT_SQL_EXIT = 13


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with candles and one materialized range under the built-in contract."""
    root = tmp_path_factory.mktemp("built")
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 2, 28), seed=3)),
        root / "m5.tsv",
    )
    store = root / "store"
    ingest = ["ingest", str(source), "--source-tz", "EET", "--store", str(store)]
    assert_exit(runner.invoke(app, ingest), 0)
    assert_exit(runner.invoke(app, ["materialize", "--date-range", RANGE, "--store", str(store)]), 0)
    return store


@pytest.fixture()
def world(tmp_path: Path, built_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the store, and the test's working directory, both under tmp_path."""
    shutil.copytree(built_store, tmp_path / "store")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def materialize_refused(world: Path, *expected: str) -> str:
    """`fs materialize` exits 13 with one `Error:` line, and nothing under `world` changed."""
    store = world / "store"
    tables, files = store_state(store / DB_FILE), files_under(world)
    args = ["materialize", "--contract", NAME, "--contracts", str(world / "contracts")]
    args += ["--date-range", RANGE, "--store", str(store)]
    result = runner.invoke(app, args)
    assert_exit(result, CONTRACT_SQL_EXIT, f"Error: contract {NAME}: ", *expected)
    error = result.output[result.output.index("Error:") :].strip()
    assert "\n" not in error and "Traceback" not in result.output, result.output
    assert store_state(store / DB_FILE) == tables and files_under(world) == files
    return error


# Statements that are not one SELECT: refused before any file of the version runs.
REFUSED = {
    "drop": ("DROP TABLE candles_slice\n", "one DROP statement"),
    "delete": ("DELETE FROM blocked_intervals\n", "one DELETE statement"),
    "copy": ("COPY (SELECT 1 AS x) TO '{out}/copied.csv'\n", "one COPY statement"),
    "attach": ("ATTACH '{out}/other.duckdb' AS other\n", "one ATTACH statement"),
    "install": ("INSTALL httpfs\n", "one LOAD statement"),
    "load": ("LOAD httpfs\n", "one LOAD statement"),
    "set": ("SET threads = 1\n", "one SET statement"),
    "pragma": ("PRAGMA version\n", "one PRAGMA statement"),
    "call": ("CALL pragma_version()\n", "one CALL statement"),
    "empty": ("-- nothing\n", "no statement"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_file_that_is_not_one_select_is_refused(
    world: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    body, holds = REFUSED[case]
    plant(world, monkeypatch, body.format(out=world))
    error = materialize_refused(world, SNAP_FILE, f"refused: the file holds {holds}", "exactly one SELECT")
    assert not (world / "copied.csv").exists() and not (world / "other.duckdb").exists()
    if case != "empty":
        assert ", line 10, column 1:" in error  # the body starts under the 9 header lines


def test_a_second_statement_after_the_select_is_refused_at_its_line(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = plant(world, monkeypatch, lambda body: body.rstrip() + ";\nDROP TABLE bars;\n")
    line = planted.line_of("DROP TABLE bars")
    materialize_refused(
        world, f", line {line}, column 1: refused: the file holds 2 statements (SELECT, DROP)"
    )


RET_2 = "ln(close / c_lag2) * 1e4 AS ret_2_bps"
# Table functions reading a path, as the SELECT of a feature; True where DuckDB reports the position.
READERS = {
    "glob": ("(SELECT count(*)::DOUBLE FROM glob('/etc/*'))", True),
    "read_text": ("(SELECT length(content)::DOUBLE FROM read_text('/etc/hostname'))", True),
    "read_csv": ("(SELECT count(*)::DOUBLE FROM read_csv('{secret}'))", True),
    "read_parquet": ("(SELECT count(*)::DOUBLE FROM read_parquet('{secret}'))", True),
    "sniff_csv": ("(SELECT count(*)::DOUBLE FROM sniff_csv('{secret}'))", False),
    "duckdb_extensions": ("(SELECT count(*)::DOUBLE FROM duckdb_extensions())", False),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_select_reading_a_path_fails(world: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """The measured hole: a feature computed from files outside the inputs (duckdb_extensions() lists the
    home folder's extension directory). DuckDB refuses the read; the error names the file, and its line and
    column where DuckDB reports a position."""
    secret = world / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    expression, positioned = READERS[reader]
    expression = expression.format(secret=secret)
    planted = plant(world, monkeypatch, lambda body: body.replace(RET_2, f"{expression} AS ret_2_bps"))
    error = materialize_refused(world, "Permission Error: Cannot access", "operations are disabled")
    if positioned:
        line, column = planted.line_of("AS ret_2_bps"), planted.column_of(expression)
        assert f"{planted.path}, line {line}, column " in error, error
        assert int(error.split(", column ")[1].split(":")[0]) > column
    else:
        assert f"{planted.path}: Permission Error" in error, error


def test_the_store_is_out_of_reach(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's own `candles` table is not there for the contract SQL: only what the pipeline registers."""
    planted = plant(world, monkeypatch, lambda body: body.replace("FROM joined", "FROM joined, candles"))
    line, column = planted.line_of("FROM joined, candles"), planted.column_of(", candles") + 2
    materialize_refused(
        world, f", line {line}, column {column}: Catalog Error: Table with name candles does not exist"
    )


def test_a_parse_error_names_the_file_line_and_column(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = plant(world, monkeypatch, lambda body: body.replace("ret_2_bps,", "ret_2_bps,,"))
    line, column = planted.line_of("ret_2_bps,,"), planted.column_of(",,") + 1
    error = materialize_refused(world, 'Parser Error: syntax error at or near ","')
    assert error.startswith(f"Error: contract {NAME}: {planted.path}, line {line}, column {column}: "), error


def test_an_unknown_function_names_the_file_line_and_column(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The position is mapped back through the rendered placeholder earlier on the same line."""
    planted = plant(world, monkeypatch, lambda body: body.replace("THEN pos END", "THEN nosuch_fn(pos) END"))
    line, column = planted.line_of("nosuch_fn"), planted.column_of("nosuch_fn")
    assert "{{gap_cooldown_minutes}}" in planted.path.read_text().splitlines()[line - 1]
    error = materialize_refused(world, "Catalog Error: Scalar Function with name nosuch_fn does not exist!")
    assert error.startswith(f"Error: contract {NAME}: {planted.path}, line {line}, column {column}: "), error


def test_debug_shows_the_traceback(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plant(world, monkeypatch, "DROP TABLE candles_slice\n")
    args = [
        "materialize",
        "--contract",
        NAME,
        "--date-range",
        RANGE,
        "--store",
        str(world / "store"),
        "--debug",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, ContractSqlError)


def test_the_online_featurizer_gives_the_same_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_slice: pa.Table
) -> None:
    planted = plant(
        tmp_path, monkeypatch, lambda body: body.replace("THEN pos END", "THEN nosuch_fn(pos) END")
    )
    line, column = planted.line_of("nosuch_fn"), planted.column_of("nosuch_fn")
    with pytest.raises(ContractSqlError, match=f"line {line}, column {column}: Catalog Error") as caught:
        featurize_window(synthetic_slice, 1, contract=planted.contract)
    assert caught.value.exit_code == CONTRACT_SQL_EXIT


def test_the_labels_file_is_checked_online_though_it_does_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_slice: pa.Table
) -> None:
    planted = plant(tmp_path, monkeypatch, "ATTACH 'x.duckdb'\n", file="50_labels.sql")
    with pytest.raises(ContractSqlError, match="refused: the file holds one ATTACH statement"):
        featurize_window(synthetic_slice, 1, contract=planted.contract)


def test_a_header_name_that_is_not_an_identifier_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_slice: pa.Table
) -> None:
    """The name goes into the pipeline's own CREATE TEMP TABLE: it must not carry SQL."""

    def rename(head: str) -> str:
        return head.replace("-- name: snap_features", "-- name: x AS SELECT 1; DROP TABLE bars; --")

    planted = plant(tmp_path, monkeypatch, None, header=rename)
    with pytest.raises(ContractSqlError, match="is not a SQL identifier"):
        run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=planted.contract)


def test_the_sandbox_cannot_be_reconfigured_or_read_python_variables() -> None:
    """The settings are locked once the sandbox opens, and a Python variable is no table to its SQL."""
    leak = pa.table({"x": [1]})  # noqa: F841 - the name the query tries to read
    sandbox = open_sandbox()
    con = sandbox.cursor()
    for setting in ("enable_external_access = true", "python_enable_replacements = true", "threads = 1"):
        with pytest.raises(duckdb.InvalidInputException, match="the configuration has been locked"):
            con.execute(f"SET {setting}")
    with pytest.raises(duckdb.CatalogException, match="Table with name leak does not exist"):
        con.sql("SELECT * FROM leak").fetchall()
    sandbox.close()


def test_a_select_with_comments_and_a_closing_semicolon_runs_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic_slice: pa.Table
) -> None:
    """A block comment before the SELECT and a `;` after it are still one SELECT, with the same values."""
    built = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, tables=["snap_features"])
    planted = plant(tmp_path, monkeypatch, lambda body: "/* a note */\n" + body.rstrip() + ";\n")
    tables = ["snap_features"]
    assert (
        run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=planted.contract, tables=tables)
        == built
    )


def test_an_unknown_parameter_names_its_line(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = plant(
        world, monkeypatch, lambda body: body.replace("{{gap_cooldown_minutes}}", "{{gap_cooldwn_minutes}}")
    )
    line, column = planted.line_of("{{gap_cooldwn_minutes}}"), planted.column_of("{{gap_cooldwn_minutes}}")
    materialize_refused(world, f", line {line}, column {column}: unknown parameter 'gap_cooldwn_minutes'")
