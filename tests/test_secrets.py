"""Secret detection and redaction (SPEC §3): every rule fires on realistic leaks and stays quiet on real configs.

Secrets here are synthetic and built by concatenation, so that no scanner mistakes this file for a leak.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources

import pytest
import yaml

from trace_operators.secrets import mask, redact_text, scan

from tests.conftest import FIXTURES

ALCHEMY_KEY = "Xk" + "7q_R2m-Z9p" * 3
INFURA_ID = "9c2f" + "41ab" * 7
QUICKNODE_TOKEN = "3e7d" + "a9b1c5f2" * 4 + "d0e6"
ANKR_KEY = "f4c2" + "8b1d9e7a" * 7 + "3c6a"
CHAINSTACK_KEY = "6d1f" + "0a9e3b7c" * 3 + "52e8"
DRPC_KEY = "Am" + "Q8xF3kP1wZ7s" * 2 + "Lr"
API_KEY = "Tz" + "4Kp9Wq2Lx8" * 2 + "Hb"
GATEWAY_KEY = "Gh" + "5Tn2Vb8Xq" * 2 + "Ra"
PASSWORD = "hunter" + "2-Hunter" + "3"
BEARER_TOKEN = "oat_" + "9Fh3Kx7Qm2" * 3
AWS_KEY_ID = "AK" + "IA" + "Q3EGRX7P5VZ2MJ4K"
AWS_SECRET = "wJal" + "rXUtnFEMI/K7MDENG/bPxRfiCY" + "9a8B7c6D2e"
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe512961708279f" + "3a1b2c3d4e5f6a7b8"
HIGH_ENTROPY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GITHUB_TOKEN = "ghp_" + "R8aKq2Zt7Xw" * 3 + "Lm4"
MNEMONIC_12 = "legal winner thank year wave sausage worth useful legal winner thank yellow"
MNEMONIC_24 = " ".join(["abandon"] * 23 + ["art"])
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + "BKcwggSjAgEAAoIBAQC7"
PEM = "-----BEGIN " + "RSA PRIVATE" + " KEY-----\n" + PEM_BODY + "\n-----END " + "RSA PRIVATE" + " KEY-----"


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


JWT_SIGNATURE = "Sfl" + "KxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
JWT = ".".join([_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "cryo", "iat": 1700000000}), JWT_SIGNATURE])
BASIC = "Basic " + base64.b64encode(b"ingest:" + PASSWORD.encode()).decode()

ALCHEMY_URL = "https://eth-mainnet.g.alchemy" + ".com/v2/" + ALCHEMY_KEY
INFURA_URL = "https://mainnet.infura" + ".io/v3/" + INFURA_ID
QUICKNODE_URL = "https://dry-wild-snow.quiknode" + ".pro/" + QUICKNODE_TOKEN + "/"
ANKR_URL = "https://rpc.ankr" + ".com/eth/" + ANKR_KEY
CHAINSTACK_URL = "https://nd-123-456-789.p2pify" + ".com/" + CHAINSTACK_KEY
USERPASS_URL = "http://ingest:" + PASSWORD + "@10.0.3.7:8545"
APIKEY_URL = "https://rpc.example.org/mainnet?apikey=" + API_KEY
DRPC_URL = "https://lb.drpc" + ".org/ogrpc?network=ethereum&dkey=" + DRPC_KEY


def case(value: str, rule: str, secret: str, id: str) -> object:
    """`secret` is the part of `value` no message or hint may hold whole; "" when nothing in it is secret."""
    return pytest.param(value, rule, secret, id=id)


POSITIVE_VALUES = [
    case(ALCHEMY_URL, "secret.url-credentials", ALCHEMY_KEY, "alchemy"),
    case(INFURA_URL, "secret.url-credentials", INFURA_ID, "infura-v3"),
    case(QUICKNODE_URL, "secret.url-credentials", QUICKNODE_TOKEN, "quicknode"),
    case(ANKR_URL, "secret.url-credentials", ANKR_KEY, "ankr"),
    case(CHAINSTACK_URL, "secret.url-credentials", CHAINSTACK_KEY, "chainstack"),
    case(USERPASS_URL, "secret.url-credentials", PASSWORD, "user-pass"),
    case(
        "https://:" + PASSWORD + "@mainnet.infura.io/v3/" + INFURA_ID,
        "secret.url-credentials",
        PASSWORD,
        "infura-secret",
    ),
    case(APIKEY_URL, "secret.url-credentials", API_KEY, "query-apikey"),
    case(DRPC_URL, "secret.url-credentials", DRPC_KEY, "drpc-dkey"),
    case("https://gw.example.net/" + GATEWAY_KEY + "/rpc", "secret.url-credentials", GATEWAY_KEY, "random-segment"),
    case(
        "https://eth-mainnet.blastapi" + ".io/3f2a9c1e-7b4d-4e6f-8a9b-0c1d2e3f4a5b",
        "secret.url-credentials",
        "3f2a9c1e-7b4d-4e6f-8a9b-0c1d2e3f4a5b",
        "blastapi-uuid",
    ),
    case("wss://eth-mainnet.g.alchemy" + ".com/v2/" + ALCHEMY_KEY, "secret.url-credentials", ALCHEMY_KEY, "websocket"),
    case("eth-mainnet.g.alchemy" + ".com/v2/" + ALCHEMY_KEY, "secret.url-credentials", ALCHEMY_KEY, "scheme-less"),
    case("https://rpc.ankr" + ".com/eth", "secret.provider-host", "", "provider-no-key"),
    case("ethereum-rpc.publicnode" + ".com", "secret.provider-host", "", "provider-bare"),
    case("backfill through eth.llamarpc.com, then stop", "secret.provider-host", "", "provider-in-prose"),
    case("https://rpc.monad.xyz", "secret.url", "", "plain-url"),
    case("http://127.0.0.1:8545", "secret.url", "", "local-url"),
    case("s3://cryo-data/bootstrap", "secret.url", "", "s3-url"),
    case("https://etherscan.io/tx/0x" + "5c50" * 16, "secret.url", "", "explorer-link"),
    case("https://github.com/paradigmxyz/cryo/blob/" + "4b825dc6" * 5 + "/README.md", "secret.url", "", "permalink"),
    case("https://cache.example.com/" + "0419e908" * 8, "secret.url", "", "content-hash-url"),
    case("Authorization: Bearer " + BEARER_TOKEN, "secret.bearer", BEARER_TOKEN, "bearer"),
    case(BASIC, "secret.bearer", BASIC.split()[1], "basic"),
    case(JWT, "secret.jwt", JWT, "jwt"),
    case("Bearer " + JWT, "secret.jwt", JWT, "bearer-jwt"),
    case(AWS_KEY_ID, "secret.aws-key", AWS_KEY_ID, "aws-key-id"),
    case("aws_secret_access_key = " + AWS_SECRET, "secret.aws-key", AWS_SECRET, "aws-secret"),
    case(PEM, "secret.pem", PEM_BODY, "pem"),
    case(PRIVATE_KEY, "secret.private-key", PRIVATE_KEY, "private-key-0x"),
    case(PRIVATE_KEY[2:], "secret.private-key", PRIVATE_KEY[2:], "private-key-bare"),
    case("deployer key for tx signing: " + PRIVATE_KEY, "secret.private-key", PRIVATE_KEY, "private-key-in-prose"),
    case(MNEMONIC_12, "secret.mnemonic", MNEMONIC_12, "mnemonic-12"),
    case(MNEMONIC_24, "secret.mnemonic", MNEMONIC_24, "mnemonic-24"),
    case("seed: " + MNEMONIC_12.capitalize() + ".", "secret.mnemonic", MNEMONIC_12, "mnemonic-in-text"),
    case(MNEMONIC_12.replace(" wave", "\nwave"), "secret.mnemonic", "", "mnemonic-over-lines"),
    case(HIGH_ENTROPY, "secret.high-entropy", HIGH_ENTROPY, "high-entropy"),
    case(GITHUB_TOKEN, "secret.high-entropy", GITHUB_TOKEN, "github-token"),
]


@pytest.mark.parametrize(("value", "rule", "secret"), POSITIVE_VALUES)
def test_a_secret_value_gives_one_problem_of_its_rule(value: str, rule: str, secret: str) -> None:
    problems = scan({"config": {"note": value}})
    assert [(p.rule, p.path, p.at_key, p.severity) for p in problems] == [(rule, ("config", "note"), False, "error")]


@pytest.mark.parametrize(("value", "rule", "secret"), POSITIVE_VALUES)
def test_no_message_or_hint_holds_the_secret_whole(value: str, rule: str, secret: str) -> None:
    (problem,) = scan({"note": value})
    assert "\n" not in problem.message
    if secret:
        assert secret not in problem.message and secret not in problem.hint


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (ALCHEMY_URL, "URL with an API key in its path: https://eth-mainnet.g.alchemy.com/v2/Xk…9p"),
        (INFURA_URL, "URL with an API key in its path: https://mainnet.infura.io/v3/9c…ab"),
        (QUICKNODE_URL, "URL with an API key in its path: https://dry-wild-snow.quiknode.pro/3e…e6/"),
        (USERPASS_URL, "URL with credentials in its user info: http://…:hu…r3@10.0.3.7:8545"),
        (APIKEY_URL, "URL with a credential in its query (apikey): https://rpc.example.org/mainnet?apikey=Tz…Hb"),
        (DRPC_URL, "URL with a credential in its query (dkey): https://lb.drpc.org/ogrpc?network=et…um&dkey=Am…Lr"),
        ("https://rpc.ankr.com/eth", "RPC provider host in a value: rpc.ankr.com"),
        ("https://rpc.monad.xyz/", "URL in a value: https://rpc.monad.xyz"),
        ("s3://cryo-data/bootstrap", "URL in a value: s3://cryo-data/…"),
        (AWS_KEY_ID, "AWS access key id in a value: AK…4K"),
        (AWS_SECRET, "40-character high-entropy string, shaped like an AWS secret access key: wJ…2e"),
        (PRIVATE_KEY, "32-byte hex value outside a hash field, shaped like a private key: 0x…b8"),
        (MNEMONIC_12, "BIP-39 mnemonic (12 words) in a value: le…ow"),
        (MNEMONIC_24, "BIP-39 mnemonic (24 words) in a value: ab…rt"),
        (JWT, "JWT in a value (alg HS256): ey…5c"),
        ("Authorization: Bearer " + BEARER_TOKEN, "Bearer credential in a value: Bearer oa…m2"),
        (PEM, "PEM private key block (RSA) in a value"),
        (HIGH_ENTROPY, "high-entropy string (32 characters), shaped like a key or token: sk…dc"),
    ],
)
def test_messages_say_what_and_where_with_the_secret_masked(value: str, message: str) -> None:
    assert [p.message for p in scan([value])] == [message]


def test_hints_say_what_to_write_instead() -> None:
    (url,) = scan({"rpc": ALCHEMY_URL})
    assert url.hint == (
        "name the pool instead: rpc_pool: <pool>; the key lives in the RPC Egress Gateway "
        "(Lite: TRACE_RPC_POOL_<NAME>_URL)"
    )
    (store,) = scan({"store": "s3://cryo-data/bootstrap"})
    assert store.hint == "DAG YAML holds no URLs: the object store comes from the runtime"
    (aws,) = scan({"note": AWS_KEY_ID})
    assert "AWS_ACCESS_KEY_ID" in aws.hint


def test_a_secret_in_a_multi_line_string_gives_its_line() -> None:
    description = "Bootstrap Monad.\n\nOwner: data team\nEndpoint: " + ALCHEMY_URL + "\nthat is all"
    (problem,) = scan({"jobs": [{"description": description}]})
    assert (problem.rule, problem.path) == ("secret.url-credentials", ("jobs", 0, "description"))
    assert problem.line_offset == 3
    (pem,) = scan({"note": "first line\n" + PEM})
    assert pem.line_offset == 1
    (mnemonic,) = scan({"note": "# 1\n\n" + MNEMONIC_12})
    assert mnemonic.line_offset == 2


def test_credentials_win_over_a_plain_url_in_the_same_value() -> None:
    problems = scan({"note": "mirror https://rpc.monad.xyz, fallback " + INFURA_URL})
    assert [(p.rule, p.message) for p in problems] == [
        ("secret.url-credentials", "URL with an API key in its path: https://mainnet.infura.io/v3/9c…ab")
    ]


def test_paths_start_from_the_given_prefix_and_follow_keys_and_indices() -> None:
    problems = scan({"inputs": [{"from": {"job": "a"}}, {"where": {"url": ALCHEMY_URL}}]}, path=("jobs", 2))
    assert [p.path for p in problems] == [("jobs", 2, "inputs", 1, "where", "url")]


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apikey",
        "apiKey",
        "API-KEY",
        "x-api-key",
        "token",
        "auth_token",
        "access_token",
        "GITHUB_TOKEN",
        "secret",
        "client_secret",
        "password",
        "db_password",
        "passwd",
        "passphrase",
        "private_key",
        "privateKey",
        "privkey",
        "access_key",
        "secret_key",
        "aws_secret_access_key",
        "auth",
        "authorization",
        "Authorization",
        "credential",
        "credentials",
        "rpc_url",
        "rpcUrl",
        "ETH_RPC_URL",
        "rpc_endpoint",
        "bearer",
        "mnemonic",
        "seed_phrase",
        "recovery_phrase",
        "jwt",
        "signing_key",
        "password2",
        "api_key_value",
    ],
)
def test_a_key_named_like_a_secret_is_reported_at_the_key(name: str) -> None:
    (problem,) = scan({"config": {name: "x" + "9" * 11}})
    assert (problem.rule, problem.path, problem.at_key) == ("secret.key-name", ("config", name), True)
    assert problem.message == f'key "{name}" names a secret and holds a value (x9…99)'


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "tokens_per_second",
        "token_address",
        "token_id",
        "author",
        "authors",
        "auth_mode",
        "auth_type",
        "rpc_pool",
        "unique_key",
        "partition_key",
        "key",
        "secret_name",
        "secrets",
        "password_file",
        "token_env",
        "keys",
        "seed",
        "tokens",
        "passthrough",
    ],
)
def test_names_that_only_resemble_secret_names_are_not_reported(name: str) -> None:
    assert scan({name: "cryo_bootstrap"}) == []


def test_one_problem_for_a_secret_key_whatever_its_value_holds() -> None:
    auth = {"user": "x", "password": PASSWORD}
    problems = scan({"private_key": PRIVATE_KEY, "auth": auth, "rpc_urls": [ALCHEMY_URL]})
    assert [(p.rule, p.path) for p in problems] == [
        ("secret.key-name", ("private_key",)),
        ("secret.key-name", ("auth",)),
        ("secret.key-name", ("rpc_urls",)),
    ]
    assert problems[1].message == 'key "auth" names a secret and holds a value (a mapping)'
    assert problems[2].hint.startswith("name the pool instead: rpc_pool: <pool>")


@pytest.mark.parametrize("value", [None, "", "  ", False, True, [], {}, "none", "null"])
def test_a_secret_key_without_a_value_is_not_reported(value: object) -> None:
    assert scan({"password": value, "token": value}) == []


def test_a_token_key_holding_contract_addresses_is_data() -> None:
    usdc = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    unquoted = yaml.safe_load(f"erc20_token: {usdc}")
    assert scan({"reward_token": usdc, "token": [usdc, usdc.lower()], **unquoted}) == []
    assert [p.rule for p in scan({"token": "Qm" + "8sK2pX7" * 3})] == ["secret.key-name"]


def test_a_secret_shaped_mapping_key_is_reported_at_the_key() -> None:
    (problem,) = scan({"pools": {ALCHEMY_URL: "monad"}})
    assert (problem.rule, problem.path, problem.at_key) == ("secret.url-credentials", ("pools", ALCHEMY_URL), True)


def test_an_unquoted_hex_private_key_loaded_as_an_integer_is_reported() -> None:
    document = yaml.safe_load(f"deployer: {PRIVATE_KEY}\nblock_hash: {PRIVATE_KEY}\nvalue_wei: 1000000000000000000")
    (problem,) = scan(document)
    assert (problem.rule, problem.path) == ("secret.private-key", ("deployer",))
    assert PRIVATE_KEY not in problem.message and problem.message.endswith(": 0x…b8")


TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
BLOCK_HASH = "0x" + "b3f1c9a2d4e6f8a0" * 4
TX_HASH = "0x" + "5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
PADDED_ADDRESS = "0x" + "0" * 24 + "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
UUID = "3f2a9c1e-7b4d-5e6f-8a9b-0c1d2e3f4a5b"
PROSE = (
    "Bootstraps the Monad testnet history (blocks, transactions and logs) into S3 as Parquet.\n"
    "Owner: data-platform@example.com. Runs after range_request; see the runbook for retries.\n"
    "Use the monad pool, never an endpoint: the gateway holds the provider keys."
)


def quiet(value: object, id: str) -> object:
    return pytest.param(value, id=id)


NEGATIVE_VALUES = [
    quiet(yaml.safe_load((FIXTURES / "valid" / "seed_example.yaml").read_text()), "spec-job-block"),
    quiet({"block_hash": BLOCK_HASH, "tx_hash": TX_HASH, "parentHash": BLOCK_HASH, "stateRoot": BLOCK_HASH}, "hashes"),
    quiet({"transaction_hashes": [TX_HASH, TX_HASH], "blocks": {"hash": BLOCK_HASH}}, "hash-lists"),
    # Inside a where filter, any column holds data: `value` is no hash word.
    quiet({"inputs": [{"from": {"dataset": "logs"}, "where": {"topic0": TRANSFER_TOPIC, "value": TX_HASH}}]}, "where"),
    quiet({"topics": [[TRANSFER_TOPIC], None, [PADDED_ADDRESS]]}, "topics"),
    quiet({"config_hash": "9e" * 32, "event_signature": TRANSFER_TOPIC, "selector": "0xa9059cbb"}, "hash-fields"),
    quiet({"contract": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "address": "0x" + "ab12" * 10}, "addresses"),
    quiet({"topic": PADDED_ADDRESS, "note": PADDED_ADDRESS, "max": "0x" + "f" * 64}, "padded-and-patterns"),
    quiet({"dataset_uuid": UUID, "dataset_version": "0b1c2d3e-4f5a-5b6c-9d8e-7f6a5b4c3d2e"}, "uuids"),
    quiet({"name": "cryo_bootstrap", "pool": "monad-mainnet", "datasets": ["blocks", "txs", "events"]}, "slugs"),
    quiet({"idle_timeout": "5m", "start": "2024-01-01", "at": "2024-01-01T00:00:00Z", "cron": "*/5 * * * *"}, "time"),
    quiet({"compression": "zstd:3", "u256_types": ["binary", "string", "f64"], "hex": True}, "output-options"),
    quiet({"include_columns": ["block_number", "transaction_hash", "effective_gas_price", "log_index"]}, "columns"),
    quiet({"chain_id": 10143, "gas": 1.5, "ok": True, "none": None, "big": 2**128, "max_uint": 2**256 - 1}, "numbers"),
    quiet({"description": PROSE}, "prose"),
    quiet({"note": "brave dog and happy cat walk over green grass near the old river bank at noon"}, "prose-bip39"),
    quiet({"note": "abandon ability able about above absent absorb abstract absurd abuse access"}, "11-bip39-words"),
    quiet({"note": "replayed after incident: tx " + TX_HASH + " reverted in block 1234"}, "tx-hash-in-prose"),
    quiet({"image": "ghcr.io/example/cryo-ingest:0.3.2", "staging": "/tmp/trace/cryo", "version": "0.3.2"}, "paths"),
    quiet({"digest": "ghcr.io/example/cryo@sha256:" + "9e" * 32}, "image-digest"),
    quiet({"key": f"cryo/10143/blocks/0_999/{UUID}/10143__blocks__00000000_to_00000999.parquet"}, "object-key"),
    quiet({"commit": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "cls": "PerPartitionExecutionStrategyV2"}, "ids"),
    quiet(
        {"subgraph": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "arn": "arn:aws:iam::123456789012:role/x"},
        "cid-and-arn",
    ),
    quiet({"secrets": ["RPC_KEY"], "auth_mode": "none", "author": "Ada Lovelace", "max_tokens": 4096}, "near-names"),
    quiet({"token_address": "0x" + "dac17f958d2ee523a2206206994597c13d831ec7", "rpc_pool": "monad"}, "token-address"),
    quiet({"x-defaults": {"timeout_seconds": 3600}, "publish": {"blocks": {"visibility": "internal"}}}, "dag-extras"),
    quiet({"note": "Bearer tokens are never written here; see the token transfers dataset"}, "bearer-prose"),
    quiet({"note": "Token 0xdac17f958d2ee523a2206206994597c13d831ec7 is USDT"}, "token-prose"),
    quiet({"note": "Basic setup for the basic case"}, "basic-prose"),
    quiet({"note": "retry with the client token 550e8400-e29b-41d4-a716-446655440000"}, "token-uuid-prose"),
    quiet({"contact": "ops@example.com", "docs": "docs/cryo.md", "ratio": "0.25"}, "emails-and-files"),
]


@pytest.mark.parametrize("value", NEGATIVE_VALUES)
def test_real_configs_give_no_false_alarm(value: object) -> None:
    assert scan(value) == []


def test_a_whole_dag_document_with_anchors_is_scanned_at_each_path() -> None:
    document = yaml.safe_load(
        "x-pool: &pool {rpc: " + ALCHEMY_URL + "}\n"
        "name: monad\n"
        "jobs:\n"
        "  - {name: a, config: *pool}\n"
        "  - {name: b, config: *pool}\n"
    )
    paths = [p.path for p in scan(document)]
    assert paths == [("x-pool", "rpc"), ("jobs", 0, "config", "rpc"), ("jobs", 1, "config", "rpc")]


@pytest.mark.parametrize(
    ("secret", "masked"),
    [("sk-test-a1b2c39f", "sk…9f"), ("abcdefgh", "ab…gh"), ("abcdefg", "…"), ("", "…"), (API_KEY, "Tz…Hb")],
)
def test_mask_keeps_at_most_two_characters_each_end(secret: str, masked: str) -> None:
    assert mask(secret) == masked


def test_redact_text_removes_a_given_url_and_its_parts() -> None:
    url = "http://u:p@127.0.0.1:8545/v2/abcdefabcdef?key=xyz"
    line = f"error sending request for url ({url})"
    assert redact_text(line, [url]) == "error sending request for url (<redacted>)"
    # Cryo normalises the URL it prints, and may print a part alone: the parts go all the same.
    printed = "error sending request for url (http://u:p@127.0.0.1:8545/v2/abcdefabcdef/?key=xyz&x=1); key xyz"
    redacted = redact_text(printed, [url])
    assert all(part not in redacted for part in ("u:p", "abcdefabcdef", "xyz"))


def test_redact_text_strips_url_credentials_it_was_not_told_about() -> None:
    line = "error sending request for url (http://u:p@127.0.0.1:8545/v2/abcdefabcdef?key=xyz)"
    assert redact_text(line) == (
        "error sending request for url (http://<redacted>@127.0.0.1:8545/v2/<redacted>?key=<redacted>)"
    )
    assert redact_text("rpc " + ALCHEMY_URL + " failed") == "rpc https://eth-mainnet.g.alchemy.com/v2/<redacted> failed"
    assert redact_text("GET " + QUICKNODE_URL + " 429") == "GET https://dry-wild-snow.quiknode.pro/<redacted>/ 429"
    assert redact_text("fetch " + DRPC_URL) == "fetch https://lb.drpc.org/ogrpc?network=<redacted>&dkey=<redacted>"
    oauth = "cb https://x.example/cb#access_token=" + API_KEY
    assert redact_text(oauth) == "cb https://x.example/cb#access_token=<redacted>"
    # In a log a long hex segment may be a key: it goes; a 0x hash in an explorer link stays.
    hex_key = "GET http://10.0.0.5:8545/" + INFURA_ID + " failed, see https://etherscan.io/tx/" + TX_HASH
    assert redact_text(hex_key) == "GET http://10.0.0.5:8545/<redacted> failed, see https://etherscan.io/tx/" + TX_HASH


def test_redact_text_removes_other_credentials_in_free_text() -> None:
    text = f"headers: Authorization: Bearer {BEARER_TOKEN}; {BASIC}; jwt={JWT}; id={AWS_KEY_ID}\n{PEM}\ndone"
    assert redact_text(text) == (
        "headers: Authorization: Bearer <redacted>; Basic <redacted>; jwt=<redacted>; id=<redacted>\n<redacted>\ndone"
    )


def test_redact_text_replaces_a_given_plain_secret_everywhere() -> None:
    assert redact_text(f"key {API_KEY} rejected ({API_KEY})", [API_KEY]) == "key <redacted> rejected (<redacted>)"
    # A short secret goes only as a whole word, so that the text around it survives.
    assert redact_text("pin 4711 at port 47110, eth_call on /eth/", ["4711", "eth"]) == (
        "pin <redacted> at port 47110, eth_call on /<redacted>/"
    )


def test_redact_text_leaves_text_without_secrets_alone() -> None:
    text = "cryo: collected 1000 blocks in 2.1s from http://127.0.0.1:8545 (Bearer token missing, token 0xdac1)"
    assert redact_text(text, ["", "ab"]) == text


def test_the_bip39_wordlist_is_the_official_english_list() -> None:
    data = resources.files("trace_operators.secrets").joinpath("bip39_english.txt").read_bytes()
    words = data.decode().split("\n")[:-1]
    assert (len(words), words[0], words[-1]) == (2048, "abandon", "zoo")
    assert hashlib.sha256(data).hexdigest() == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
