"""Secret classes from issue 13: each leak, miss, false alarm and wrong line fixed as a class, with cases of our own.

Secrets here are derived at import time (hashes of labels, RFC test vectors), so that no scanner mistakes this
file for a leak.
"""

from __future__ import annotations

import hashlib

import pytest
import yaml

from trace_operators.secrets import mask_secrets, scan, scan_comment, secret_line
from trace_operators.secrets.detectors import HASH_HINT, POOL_HINT, REMOVE_HINT
from trace_operators.secrets.encodings import BASE58_ALPHABET
from trace_operators.secrets.keccak import keccak256
from trace_operators.secrets.mnemonic import is_mnemonic, word_index

from tests.test_secrets import POSITIVE_VALUES


def _hex(label: str, n: int = 64) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:n]


def _token(label: str, n: int = 32) -> str:
    """A random-looking key of letters, digits, '_' and '-', as providers issue them."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    digest = hashlib.sha512(label.encode()).digest()
    return "".join(alphabet[b % 64] for b in digest[:n])


def _b58(data: bytes) -> str:
    number, text = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58_ALPHABET[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


KEY = _token("provider key")
HEX_KEY = _hex("private key")
INFURA_ID = _hex("infura project", 32)
# RFC 8032, test 1: a seed, its public key, and a signature (of the empty message) by it.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc4" + "4449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a" + "0ee172f3daa62325af021a68f707511a")
SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
MNEMONIC_12 = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def _messages(problems: list[object]) -> str:
    return "\n".join(f"{p.message} {p.hint}" for p in problems)  # type: ignore[attr-defined]


# A key in every part of a URL, on a provider host and elsewhere.
URL_SECRETS = [
    pytest.param(f"https://{KEY}.eth.rpc.thirdweb.com/", KEY, id="key-subdomain-provider"),
    pytest.param(f"https://{INFURA_ID}.mainnet.infura.io/", INFURA_ID, id="hex-subdomain-provider"),
    pytest.param(f"https://{KEY}.rpc.example.net/", KEY, id="key-subdomain-elsewhere"),
    pytest.param(f"https://rpc.ankr.com/eth/0x{HEX_KEY}", "0x" + HEX_KEY, id="hex-key-path-provider"),
    pytest.param(f"https://rpc.ankr.com/eth/{HEX_KEY}", HEX_KEY, id="bare-hex-key-path-provider"),
    pytest.param(f"https://user:{KEY}@rpc.example.net/", KEY, id="user-info"),
    pytest.param(f"https://{KEY}@rpc.example.net/", KEY, id="user-info-key-alone"),
    pytest.param(f"https://eth-mainnet.g.alchemy.com/v2/{KEY}", KEY, id="path"),
    pytest.param(f"https://rpc.example.net/?apikey={KEY}", KEY, id="query"),
    pytest.param(f"https://rpc.example.net/cb#access_token={KEY}", KEY, id="fragment"),
    pytest.param(f"eth-mainnet.g.alchemy.com/v2/{KEY}", KEY, id="scheme-less"),
]


@pytest.mark.parametrize(("url", "secret"), URL_SECRETS)
def test_a_key_anywhere_in_a_url_is_a_credential_and_never_printed_whole(url: str, secret: str) -> None:
    for value in (url, f"endpoint: {url} (primary)"):
        problems = scan({"config": {"note": value}})
        assert [p.rule for p in problems] == ["secret.url-credentials"]
        assert secret not in _messages(problems)
        masked = mask_secrets(f"dag.missing-input: no job named {value!r}")
        assert secret not in masked and f"{secret[:2]}…{secret[-2:]}" in masked
        assert mask_secrets(masked) == masked


def test_a_node_id_or_region_in_a_provider_subdomain_is_no_key() -> None:
    (problem,) = scan({"note": "https://nd-123-456-789.p2pify.com/eth"})
    assert problem.message == "RPC provider host in a value: nd-123-456-789.p2pify.com"
    text = "dry-wild-snow.quiknode.pro and eth-mainnet.g.alchemy.com"
    assert mask_secrets(text) is text


BEARER_TOKEN = _token("bearer", 40)
SHAPES = [
    pytest.param("Bearer " + BEARER_TOKEN, BEARER_TOKEN, id="bearer"),
    pytest.param("0x" + HEX_KEY, "0x" + HEX_KEY, id="hex-0x"),
    pytest.param(HEX_KEY, HEX_KEY, id="hex-bare"),
    pytest.param(str(int(HEX_KEY, 16)), str(int(HEX_KEY, 16)), id="hex-as-decimal"),
    pytest.param("AK" + "IA" + _hex("aws", 16).upper(), "AK" + "IA" + _hex("aws", 16).upper(), id="aws-key-id"),
    pytest.param("token=" + KEY, KEY, id="high-entropy-pair"),
    pytest.param(MNEMONIC_12, MNEMONIC_12, id="mnemonic"),
    pytest.param(_b58(SEED + PUBLIC), _b58(SEED + PUBLIC), id="solana-keypair"),
]


@pytest.mark.parametrize(("shape", "secret"), SHAPES)
def test_mask_secrets_masks_each_shape_in_free_text_idempotently(shape: str, secret: str) -> None:
    text = f"unknown key {shape!r} in config"
    masked = mask_secrets(text)
    assert secret not in masked and f"{secret[:2]}…{secret[-2:]}" in masked
    assert mask_secrets(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "unknown key 'chunksize' in config",
        "job 'cryo_bootstrap' uses operator 'other', which no installed plugin provides: not validated",
        "see https://github.com/paradigmxyz/cryo/blob/main/README.md#datasets and https://docs.example.com/?tab=cli",
        "https://etherscan.io/tx/0x" + _hex("tx"),
        f"topic0 {TRANSFER_TOPIC} matched; 2**256-1 = {2**256 - 1}",
        "brave dog and happy cat walk over green grass near the old river bank at noon",
        POOL_HINT,
        REMOVE_HINT,
        HASH_HINT,
        "a." * 1000 + "com",
    ],
)
def test_mask_secrets_returns_text_without_secrets_unchanged(text: str) -> None:
    assert mask_secrets(text) is text


def test_a_comment_is_scanned_but_a_link_without_credentials_is_no_secret() -> None:
    assert scan_comment(" docs: https://docs.alchemy.com/reference/eth-getlogs, https://rpc.ankr.com/eth") == []
    assert scan_comment(" see https://github.com/paradigmxyz/cryo#readme") == []
    (problem,) = scan_comment(f" old endpoint https://eth-mainnet.g.alchemy.com/v2/{KEY}")
    assert (problem.rule, problem.path, problem.line_offset) == ("secret.url-credentials", (), 0)
    assert KEY not in problem.message
    (key,) = scan_comment(f" deployer 0x{HEX_KEY}")
    assert key.rule == "secret.private-key" and HEX_KEY not in key.message


def test_outside_a_job_block_a_url_without_credentials_is_no_secret() -> None:
    anchors = {"x-docs": "https://docs.alchemy.com/reference", "x-repo": "https://github.com/paradigmxyz/cryo"}
    assert scan(anchors, ("x-docs",), in_job=False) == []
    (problem,) = scan({"x-rpc": f"https://mainnet.infura.io/v3/{INFURA_ID}"}, in_job=False)
    assert problem.rule == "secret.url-credentials"
    assert [p.rule for p in scan(anchors)] == ["secret.provider-host", "secret.url"]


def test_a_mnemonic_written_as_a_list_of_words_is_found() -> None:
    document = yaml.safe_load("seed:\n" + "".join(f"  - {w}\n" for w in MNEMONIC_12.split()))
    (problem,) = scan({"x-wallet": document["seed"]})
    assert (problem.rule, problem.path) == ("secret.mnemonic", ("x-wallet",))
    assert MNEMONIC_12 not in problem.message and problem.message.endswith(": le…ow")
    assert [p.rule for p in scan([["abandon"] * 23 + ["art"]])] == ["secret.mnemonic"]


def test_bip39_words_without_a_valid_checksum_are_prose() -> None:
    prose = "pretty good people often visit this little city during summer because music"
    assert all(w in word_index() for w in prose.split()) and not is_mnemonic(prose.split())
    assert scan({"description": prose, "tags": prose.split()}) == []
    assert scan({"note": MNEMONIC_12.replace("yellow", "year")}) == []


def test_a_mnemonic_between_label_words_is_found() -> None:
    (problem,) = scan({"note": f"wallet seed {MNEMONIC_12} again"})
    assert problem.rule == "secret.mnemonic" and problem.message.endswith("(12 words) in a value: le…ow")


def test_a_solana_keypair_is_a_secret_and_its_address_and_signatures_are_not() -> None:
    keypair = list(SEED + PUBLIC)
    listed = yaml.safe_load("payer: " + str(keypair))
    assert [(p.rule, p.path) for p in scan(listed)] == [("secret.private-key", ("payer",))]
    (b58,) = scan({"payer": _b58(SEED + PUBLIC)})
    assert b58.rule == "secret.private-key" and _b58(SEED + PUBLIC) not in b58.message
    quiet = {
        "program": _b58(PUBLIC),
        "tx": _b58(SIGNATURE),
        "note": f"replay {_b58(SIGNATURE)} by {_b58(PUBLIC)}",
        "signature": list(SIGNATURE),
    }
    assert scan(quiet) == []


@pytest.mark.parametrize(
    "address",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # Bitcoin P2PKH (the genesis coinbase)
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # Bitcoin P2SH
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # Bitcoin bech32
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",  # Bitcoin taproot (bech32m)
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",  # Tron (USDT)
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",  # Solana (USDC mint)
    ],
)
def test_chain_addresses_are_not_secrets(address: str) -> None:
    assert scan({"note": address, "wallets": [address], "memo": f"sent to {address} today"}) == []


def test_a_wif_private_key_is_a_secret() -> None:
    wif = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4" + "dZ1jvhTVqvbTLvyTJ"  # the Bitcoin wiki's example
    (problem,) = scan({"note": wif})
    assert problem.rule == "secret.private-key" and wif not in problem.message


def test_a_key_shaped_rpc_pool_is_a_secret() -> None:
    (problem,) = scan({"config": {"rpc_pool": INFURA_ID}})
    assert (problem.rule, problem.path, problem.hint) == ("secret.high-entropy", ("config", "rpc_pool"), POOL_HINT)
    assert INFURA_ID not in problem.message
    assert [p.path for p in scan({"rpc_pool": KEY})] == [("rpc_pool",)]
    assert scan({"rpc_pool": "monad", "pool": "eth-mainnet-archive", "rpcPool": "base_sepolia-2"}) == []


def test_a_hex_key_under_a_short_key_name_in_a_where_filter_is_a_secret() -> None:
    where = {"topic0": TRANSFER_TOPIC, "value": "0x" + _hex("value"), "k": HEX_KEY, "pk": "0x" + HEX_KEY}
    problems = scan({"inputs": [{"from": {"dataset": "logs"}, "where": where}]})
    assert [(p.rule, p.path[-1]) for p in problems] == [("secret.private-key", "k"), ("secret.private-key", "pk")]
    assert scan({"where": {"block_hash": "0x" + HEX_KEY, "pk_hash": HEX_KEY}}) == []


@pytest.mark.parametrize(
    "name", ["sha256", "SHA256", "fileSha256", "sha256sum", "digest", "checksum", "etag", "ETag", "content_sha512"]
)
def test_a_sha256_digest_in_a_field_named_for_digests_is_data(name: str) -> None:
    assert scan({"artifact": {name: _hex("file")}}) == []


def test_event_topics_are_not_keys() -> None:
    assert keccak256(b"Transfer(address,address,uint256)").hex() == TRANSFER_TOPIC[2:]
    approval = "0x" + keccak256(b"Approval(address,address,uint256)").hex()
    swap = "0x" + keccak256(b"Swap(address,address,int256,int256,uint160,uint128,int24)").hex()
    anchors = yaml.safe_load(f"x-transfer: &t {TRANSFER_TOPIC}\nx-approval: '{approval}'\nnote: {swap}\n")
    assert scan(anchors) == []
    # An event of its own is known by the signature next to its topic.
    mine = "0x" + keccak256(b"Harvested(address,uint256)").hex()
    assert scan({"x-harvest": {"signature": "Harvested(address, uint256)", "id": mine}}) == []
    assert [p.rule for p in scan({"x-harvest": {"id": mine}})] == ["secret.private-key"]


def test_literal_scalar_line_offset_is_the_line_of_the_secret() -> None:
    document = yaml.safe_load(f"note: |\n  one\n  two\n\n  key https://mainnet.infura.io/v3/{INFURA_ID}\n  end\n")
    (problem,) = scan(document)
    assert problem.line_offset == 3


def test_secret_line_finds_the_source_line_of_a_folded_or_plain_scalar() -> None:
    source = f"note: >\n  one\n  two\n\n  key https://mainnet.infura.io/v3/{INFURA_ID}\n  end\n"
    (problem,) = scan(yaml.safe_load(source))
    lines = source.splitlines()[1:]
    assert problem.line_offset == 1  # the value's own lines: folding joined "one two"
    assert secret_line(lines, problem.rule) == 3
    words = MNEMONIC_12.split()
    spread = ["a wallet", "seed " + " ".join(words[:5]), " ".join(words[5:]), "end"]
    assert secret_line(spread, "secret.mnemonic") == 1
    assert secret_line(["no secret here"], "secret.jwt") is None


@pytest.mark.parametrize("size", [200_000, 400_000, 1_000_000])
def test_a_long_dotted_string_scans_in_linear_time(size: int) -> None:
    dotted = "a." * (size // 2) + "com"
    assert scan({"note": dotted}) == []
    assert mask_secrets(dotted) is dotted


@pytest.mark.parametrize(
    "text",
    [
        "http://a.example/x " * 12_000,
        "x.alchemy.com " * 14_000,
        "ab" * 100_000,
        "abandon " * 25_000,
        "https://a.example/?" + "a=b&" * 50_000,
        "eyJ" * 70_000,
        "1" * 200_000,
    ],
    ids=["urls", "provider-hosts", "hex", "words", "query", "jwt-starts", "digits"],
)
def test_other_long_shapes_complete(text: str) -> None:
    scan({"note": text})
    mask_secrets(text)


def test_integers_past_python_s_digit_limit_do_not_raise() -> None:
    huge = 10**5000
    assert scan({"n": huge, "values": [huge], huge: 1}) == []
    (problem,) = scan({"password": huge})
    assert problem.rule == "secret.key-name"


def test_an_unquoted_private_key_as_a_mapping_key_is_reported_at_the_key() -> None:
    document = yaml.safe_load(f"pools:\n  0x{HEX_KEY}: monad\n  {TRANSFER_TOPIC}: logs\n")
    (problem,) = scan(document)
    assert (problem.rule, problem.path, problem.at_key) == ("secret.private-key", ("pools", int(HEX_KEY, 16)), True)
    assert HEX_KEY not in problem.message
    assert str(int(HEX_KEY, 16)) not in mask_secrets(f"non-string key {int(HEX_KEY, 16)} in pools")


@pytest.mark.parametrize(("value", "rule", "secret"), POSITIVE_VALUES)
def test_mask_secrets_masks_every_value_the_scan_reports(value: str, rule: str, secret: str) -> None:
    masked = mask_secrets(f"value {value} repeated by another rule")
    assert mask_secrets(masked) == masked
    if secret:
        assert secret not in masked
