from __future__ import annotations


async def test_probes_answer_without_credentials(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client()
    for path in ("/healthz", "/readyz"):
        r = await client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["status"] == "ok"


async def test_unknown_route_is_a_problem_with_message(make_client) -> None:  # type: ignore[no-untyped-def]
    client = await make_client()
    r = await client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "/docs" in r.json()["message"]
    assert r.headers["x-request-id"]
