"""A merchant rotates its API keys through the API, on two API processes: a revoked key is
refused at once by both (there is no per-process key cache to outlive it), the list shows
prefixes and last use but never a secret, and one merchant cannot touch another's keys."""

import json

import httpx

from tests.e2e.api_pair import api_pair
from tests.e2e.helpers import run_cli
from tests.e2e.test_api_errors import assert_problem
from tests.stack import CobroProcesses

__all__ = ["api_pair"]  # the fixture, imported for this module's tests


def _client(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def _status_on_both(pair: CobroProcesses, key: str) -> list[int]:
    codes = []
    for url in pair.api_urls:
        async with _client(url, key) as api:
            codes.append((await api.get("/v1/payments?limit=1")).status_code)
    return codes


async def test_rotating_a_key_on_two_api_processes(
    api_pair: CobroProcesses, merchant: tuple[str, str]
) -> None:
    _, old_key = merchant
    first, second = api_pair.api_urls
    assert await _status_on_both(api_pair, old_key) == [200, 200]  # both have served it

    async with _client(first, old_key) as api:
        created = await api.post("/v1/api_keys", json={"name": "rotation 2026-12"})
    assert created.status_code == 201, created.text
    new = created.json()
    new_key = new["secret"]
    assert new_key.startswith("sk_") and new["prefix"] == new_key[:12]
    assert new["id"].startswith("key_") and new["name"] == "rotation 2026-12"
    assert new["revoked_at"] is None and new["last_used_at"] is None
    assert await _status_on_both(api_pair, new_key) == [200, 200]
    assert await _status_on_both(api_pair, old_key) == [200, 200]

    async with _client(second, new_key) as api:
        keys = (await api.get("/v1/api_keys")).json()["data"]
        old_id = next(k["id"] for k in keys if k["prefix"] == old_key[:12])
        revoked = await api.delete(f"/v1/api_keys/{old_id}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    # The very next request with the old key, on either process: refused.
    for url in api_pair.api_urls:
        async with _client(url, old_key) as api:
            refused = await api.get("/v1/payments?limit=1")
        assert_problem(refused, 401, "not valid")
    assert await _status_on_both(api_pair, new_key) == [200, 200]
    # Revoking it again changes nothing: same answer, same time.
    async with _client(first, new_key) as api:
        again = await api.delete(f"/v1/api_keys/{old_id}")
    assert again.status_code == 200 and again.json() == revoked.json()


async def test_the_list_shows_prefixes_and_last_use_never_a_secret(
    api_pair: CobroProcesses, merchant: tuple[str, str]
) -> None:
    _, key = merchant
    async with _client(api_pair.api_urls[0], key) as api:
        second = (await api.post("/v1/api_keys")).json()
        listed = await api.get("/v1/api_keys")
    assert listed.status_code == 200
    keys = listed.json()["data"]
    assert keys[0]["id"] == second["id"]  # newest first
    assert {k["prefix"] for k in keys} == {key[:12], second["secret"][:12]}
    text = listed.text
    assert key not in text and second["secret"] not in text and '"secret"' not in text
    mine = next(k for k in keys if k["prefix"] == key[:12])
    assert mine["last_used_at"] is not None  # it made these requests
    unused = next(k for k in keys if k["id"] == second["id"])
    assert unused["last_used_at"] is None and unused["name"] is None


async def test_another_merchants_key_is_404_and_the_last_key_stays(
    api_pair: CobroProcesses, merchant: tuple[str, str], other_merchant: tuple[str, str]
) -> None:
    async with _client(api_pair.api_urls[1], other_merchant[1]) as other:
        theirs = (await other.get("/v1/api_keys")).json()["data"]
        assert len(theirs) == 1
    async with _client(api_pair.api_urls[0], merchant[1]) as api:
        assert_problem(await api.delete(f"/v1/api_keys/{theirs[0]['id']}"), 404, theirs[0]["id"])
        assert_problem(await api.delete("/v1/api_keys/key_nobody"), 404)
        mine = (await api.get("/v1/api_keys")).json()["data"]
        assert [k["prefix"] for k in mine] == [merchant[1][:12]]  # not theirs
        last = await api.delete(f"/v1/api_keys/{mine[0]['id']}")
        assert_problem(last, 409, "last active key")
        assert (await api.get("/v1/api_keys")).status_code == 200
        too_long = await api.post("/v1/api_keys", json={"name": "x" * 101})
        assert_problem(too_long, 422)
    async with _client(api_pair.api_urls[1], other_merchant[1]) as other:
        assert (await other.get("/v1/api_keys")).status_code == 200  # theirs still works


async def test_ops_rotate_a_key_with_the_cli(
    api_pair: CobroProcesses, merchant: tuple[str, str]
) -> None:
    merchant_id, old_key = merchant
    env = api_pair.env
    created = json.loads((await run_cli(env, "keys", "create", "--merchant", merchant_id))[0])
    assert created["api_key"].startswith("sk_") and created["id"].startswith("key_")
    lines = await run_cli(env, "keys", "list", "--merchant", merchant_id)
    listed = [json.loads(line) for line in lines]
    assert {k["prefix"] for k in listed} == {old_key[:12], created["api_key"][:12]}
    assert all("api_key" not in k and old_key not in json.dumps(k) for k in listed)
    old_id = next(k["id"] for k in listed if k["prefix"] == old_key[:12])
    revoked = json.loads(
        (await run_cli(env, "keys", "revoke", "--merchant", merchant_id, old_id))[0]
    )
    assert revoked["id"] == old_id and revoked["revoked_at"]
    assert await _status_on_both(api_pair, old_key) == [401, 401]
    assert await _status_on_both(api_pair, created["api_key"]) == [200, 200]
