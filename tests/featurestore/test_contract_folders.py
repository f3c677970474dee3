"""Contract versions as folders the user owns: the strict declaration parser, `fs contract list/new/show`,
a user version materialized and validated into its own tables, its staleness after an edit, and the
consistency check that refuses a declaration and SQL that disagree before anything is written."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.contract_repo import new_version
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.errors import ContractError, InputError
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from schemas.contract import SQL_ROOT, contract_hashes, load_contract
from schemas.declaration import DeclarationError
from schemas.seed_contract import SEED_CONTEXT_CONTRACT, compute_feature_contract_hash
from schemas.versions import CONTRACT_V2, contract_for

START, END = date(2025, 2, 17), date(2025, 3, 14)
RANGE = "2025-02-17..2025-03-14"
runner = CliRunner()
NEW_SQL = "    (close - c_lag24) / atr48 AS move_24_atr\nFROM joined"
NEW_DECL = (
    '  { name = "move_24_atr", dtype = "float64", role = "feature", unit = "ATR", range = [-200.0, 200.0], '
    'nullable = "warmup", lookback = 48, description = "Close - close 24 bars ago, in 48-bar ATR." },\n]\n\n'
    "[tables.eligibility]"
)


def add_snapshot_feature(
    folder: Path, *, sql: bool = True, declaration: bool = True, sql_text: str = NEW_SQL
):
    """The README's two edits: one column in the snapshot SQL's final SELECT and its declaration line."""
    if sql:
        path = folder / "30_snap_features.sql"
        text = path.read_text()
        edited = text.replace(
            "        AS int_rsi14_atr_ratio\nFROM joined", "        AS int_rsi14_atr_ratio,\n" + sql_text
        )
        assert edited != text
        path.write_text(edited)
    if declaration:
        path = folder / "contract.toml"
        text = path.read_text()
        edited = text.replace("]\n\n[tables.eligibility]", NEW_DECL, 1)
        assert edited != text
        path.write_text(edited)


def _declaration_with(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "x"
    shutil.copytree(SQL_ROOT / "v2", folder)
    path = folder / "contract.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


def test_builtin_folders_give_the_pinned_hashes() -> None:
    assert contract_hashes(load_contract(SQL_ROOT / "v1")) == {
        "feature_contract_hash": "93ab1d31534f2dc7",
        "full_contract_hash": "f9375a1b798b1c05a591ce815adcd8a15f9695412625ea24a63e98f2b987e77f",
    }
    assert contract_hashes(CONTRACT_V2)["feature_contract_hash"] == "93ab1d31534f2dc7"


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        ('name = "rsi_14", dtype', 'name = "rsi_14", colour = "red", dtype', "line ", "unknown key 'colour'"),
        ('name = "rsi_14", dtype = "float64"', 'name = "rsi_14", dtype = "float"', "line ", "dtype 'float'"),
        ("sequence_length = 30\n", "", "line ", "missing parameters ['sequence_length']"),
        (
            '{ name = "rsi_14", dtype = "float64", role = "feature", unit = "0-100", ',
            '{ name = "rsi_14", dtype = "float64", role = "feature", ',
            "line ",
            "missing unit",
        ),
        (
            'range = [0, 100], nullable = "warmup", lookback = 14,',
            'range = [100, 0], nullable = "warmup", lookback = 14,',
            "line ",
            "is not [low, high]",
        ),
        ("[parameters]\n", '[parameters]\nsql_version = "v9"\n', "line ", "the folder's name"),
        ("timeframe_minutes = 5\n", "timeframe_minutes = 5\ntimeframe_minutes = 6\n", "TOML syntax", "line"),
    ],
)
def test_a_bad_declaration_names_file_place_reason_and_fix(tmp_path, old, new, where, reason) -> None:
    folder = _declaration_with(tmp_path, old, new)
    with pytest.raises(DeclarationError) as caught:
        load_contract(folder, origin="user")
    message = str(caught.value)
    assert str(folder / "contract.toml") in message and where in message and reason in message
    assert "how to fix:" in message


def test_a_bad_declaration_points_at_its_line(tmp_path) -> None:
    folder = _declaration_with(tmp_path, 'name = "rsi_14", dtype', 'name = "rsi_14", colour = "red", dtype')
    line = next(
        i for i, s in enumerate((folder / "contract.toml").read_text().splitlines(), 1) if "colour" in s
    )
    with pytest.raises(
        DeclarationError, match=rf"line {line} \(tables.snap_features.columns\[\d+\] rsi_14\)"
    ):
        load_contract(folder, origin="user")


def test_context_columns_other_than_the_seed_need_their_own_context_dict(tmp_path) -> None:
    folder = _declaration_with(
        tmp_path,
        'allowed = [0, 1, 2], value_names = ["DOWN"',
        'allowed = [0, 1, 2, 3], value_names = ["DOWN", "FLAT"',
    )
    with pytest.raises(DeclarationError, match="context column 'trend_regime_id' differs from the seed's"):
        load_contract(folder, origin="user")


def test_a_version_with_its_own_context_dict_gets_its_own_feature_hash(tmp_path) -> None:
    folder = _declaration_with(
        tmp_path,
        'allowed = [0, 1, 2], value_names = ["DOWN"',
        'allowed = [0, 1, 2, 3], value_names = ["DOWN", "FLAT"',
    )
    own = {
        **SEED_CONTEXT_CONTRACT,
        "trend_regime_id": {"type": "categorical", "values": [0, 1, 2, 3], "embedding_dim": 8},
    }
    lines = []
    for name, entry in own.items():
        lines.append(f"\n[contract.context_contract.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
    with (folder / "contract.toml").open("a") as handle:
        handle.write("\n".join(lines) + "\n")
    contract = load_contract(folder, origin="user")
    assert contract.context_contract == own
    assert contract_hashes(contract)["feature_contract_hash"] == compute_feature_contract_hash(own)
    assert contract_hashes(contract)["feature_contract_hash"] != "93ab1d31534f2dc7"


def test_user_version_names_are_checked(tmp_path) -> None:
    with pytest.raises(InputError, match="reserves"):
        new_version("v3", "v2", tmp_path)
    with pytest.raises(InputError, match="lower-case"):
        new_version("My-Set", "v2", tmp_path)
    new_version("mine", "v2", tmp_path)
    with pytest.raises(InputError, match="already exists"):
        new_version("mine", "v2", tmp_path)


def test_fs_contract_new_list_show(tmp_path) -> None:
    repo = tmp_path / "contracts"
    made = runner.invoke(app, ["contract", "new", "rsi7", "--from", "v2", "--contracts", str(repo), "--json"])
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in (repo / "rsi7").iterdir()) == sorted(
        ["contract.toml", *(p.name for p in (SQL_ROOT / "v2").glob("*.sql"))]
    )
    listed = json.loads(runner.invoke(app, ["contract", "list", "--contracts", str(repo), "--json"]).output)
    rows = {r["version"]: r for r in listed["versions"]}
    assert [rows[v]["origin"] for v in ("v1", "v2", "rsi7")] == ["built-in", "built-in", "user"]
    # an unedited copy declares the same data as v2 under another name: same feature hash, other full hash
    assert rows["rsi7"]["feature_contract_hash"] == rows["v2"]["feature_contract_hash"]
    assert rows["rsi7"]["full_contract_hash"] != rows["v2"]["full_contract_hash"]
    shown = runner.invoke(app, ["contract", "show", "rsi7", "--contracts", str(repo), "--json"])
    info = json.loads(shown.output)
    assert info["warmup_bars"] == CONTRACT_V2.warmup_bars and info["parameters"]["sql_version"] == "rsi7"
    assert [t["name"] for t in info["tables"]] == [
        "context",
        "seq_features",
        "snap_features",
        "eligibility",
        "labels",
    ]
    table = runner.invoke(app, ["contract", "show", "rsi7", "--contracts", str(repo)])
    assert table.exit_code == 0 and "snap_features (30_snap_features.sql)" in table.output


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user_versions")
    candles = generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 3, 21), seed=5))
    store = Store.at(root / "store")
    ingest_file(
        store, write_mt5_tsv(candles, root / "c.tsv"), IngestOptions("XAUUSD", fmt="mt5", source_tz="EET")
    )
    return root / "store"


@pytest.fixture()
def store(clean_store: Path, tmp_path: Path) -> Store:
    shutil.copytree(clean_store, tmp_path / "store")
    return Store.at(tmp_path / "store")


def _tables(store: Store) -> set[str]:
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _runs(store: Store) -> int:
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM materialize_log").fetchone()[0]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"declaration": False}, "column 'move_24_atr' missing in declaration (the SQL gives DOUBLE"),
        ({"sql": False}, "column 'move_24_atr' missing in SQL (declared as float64"),
        (
            {"sql_text": "    'up' AS move_24_atr\nFROM joined"},
            "column 'move_24_atr' dtype differs: declared float64, SQL gives VARCHAR",
        ),
    ],
)
def test_declaration_and_sql_must_agree_before_anything_is_written(store, tmp_path, edit, expected) -> None:
    folder = new_version("x", "v2", tmp_path / "contracts")
    add_snapshot_feature(folder, **edit)
    before = _tables(store), _runs(store)
    result = runner.invoke(
        app,
        [
            "materialize",
            "--date-range",
            RANGE,
            "--contract",
            "x",
            "--contracts",
            str(tmp_path / "contracts"),
            "--store",
            str(store.root),
        ],
    )
    assert result.exit_code == 1
    assert expected in result.output and "table snap_features (30_snap_features.sql)" in result.output
    assert "nothing was written" in result.output
    assert (_tables(store), _runs(store)) == before and not any(t.startswith("x_") for t in _tables(store))


def test_a_user_version_materializes_validates_and_goes_stale_when_edited(
    store, tmp_path, monkeypatch
) -> None:
    repo = tmp_path / "contracts"
    monkeypatch.setenv("FS_CONTRACTS", str(repo))
    add_snapshot_feature(new_version("x", "v2"))
    contract = contract_for("x")
    result = materialize(store, MaterializeConfig("XAUUSD", START, END), contract=contract)
    assert result.contract_version == "x"
    assert {
        f"x_{t}" for t in ("context", "seq_features", "snap_features", "eligibility", "labels")
    } <= _tables(store)
    with duckdb.connect(str(store.db_path), read_only=True) as con:
        values = con.execute("SELECT count(move_24_atr), count(*) FROM x_snap_features").fetchone()
    assert 0 < values[0] <= values[1]
    checked = runner.invoke(app, ["contract", "check", "x", "--cuts", "1", "--store", str(store.root)])
    assert checked.exit_code == 0, checked.output  # validate seals a user version only after its check
    snap = validate(store, ValidateConfig("XAUUSD", START, END, data_docs=False), contract=contract)
    assert snap.snapshot_id
    status = json.loads(runner.invoke(app, ["status", "--store", str(store.root), "--json"]).output)
    state = status["symbols"]["XAUUSD"]["materialized"]
    assert [s["state"] for s in state if s["sql_version"] == "x"] == ["current"]
    # an edit of the folder after materialize makes the user version's rows stale, saying why
    sql = repo / "x" / "30_snap_features.sql"
    sql.write_text(sql.read_text().replace("(close - c_lag24) / atr48", "(close - c_lag24) / atr96"))
    status = json.loads(runner.invoke(app, ["status", "--store", str(store.root), "--json"]).output)
    stale = [s for s in status["symbols"]["XAUUSD"]["materialized"] if s["sql_version"] == "x"]
    assert (
        stale[0]["state"] == "stale" and f"its folder {repo / 'x'} changed after the run" in stale[0]["why"]
    )
    with pytest.raises(ContractError, match="unknown contract version 'y'"):
        contract_for_cli("y")


def contract_for_cli(name: str):
    from featurestore.store.versions import named_contract

    return named_contract(name)
