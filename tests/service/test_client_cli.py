"""The Python client (service/client.py) and the querying commands (`musicprism similar |
search | timeline`) against a real server over a real store (SQLite and PostgreSQL): each
answer equals what the HTTP API gives a plain HTTP client, errors keep the API's detail."""

from __future__ import annotations

import email.parser
import json
import time
from pathlib import Path

import httpx2
import pytest
import soundfile as sf

from service.cli import main
from service.client import ApiError, Client, multipart, query_string
from support.audio import encode
from support.server import serve
from tests.service.conftest import SONGS, SR, song
from tests.utils.models import tiny_checkpoint

API_KEY = "client-test-key-0123456789"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_the_client_and_the_cli_against_a_served_catalogue(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": database_url, "MUSICPRISM_DATA_DIR": str(tmp_path / "data"),
           "MUSICPRISM_MODEL_PATH": str(tiny_checkpoint(tmp_path / "model.pt")),
           "MUSICPRISM_API_KEY": API_KEY, "MUSICPRISM_LOG_LEVEL": "warning",
           "MUSICPRISM_MIN_AUDIO_SECONDS": "0.5"}
    with serve(env, tmp_path / "server.log") as server, httpx2.Client(
        base_url=server.base_url, timeout=60.0
    ) as raw:
        api = Client(server.base_url, api_key=API_KEY)
        ids = {}
        for key, (title, artist) in list(SONGS.items())[:5]:
            made = api.add_track(encode(song(key), SR, "flac"), title=title, artist=artist)
            assert made.created and made.track.title == title
            ids[key] = made.track.id
        again = api.add_track(encode(song("alpha"), SR, "flac"))
        assert not again.created and again.track.id == ids["alpha"]

        def same(answer: object, path: str, **params: object) -> None:
            want = raw.get(path, params=params)  # type: ignore[arg-type]
            assert want.status_code == 200, want.text
            assert answer.model_dump(mode="json") == want.json()  # type: ignore[attr-defined]

        a, b = ids["alpha"], ids["gamma"]
        same(api.similar(a, facet="mood:0.7,genre:0.3", k=3), f"/similar/{a}",
             facet="mood:0.7,genre:0.3", k=3)
        same(api.similar(a, k=4, exclude=[b], artist=["Ann", "Bob"]), f"/similar/{a}", k=4,
             exclude=[b], artist=["Ann", "Bob"])
        same(api.search(text="calm piano, no drums", k=3), "/search",
             q="calm piano, no drums", k=3)
        same(api.search(["jazz", "happy"]), "/search", tag=["jazz", "happy"])
        same(api.playlist(a, b, k=2, facet="mood", spacing=1), "/playlist",
             **{"from": a, "to": b, "k": 2, "facet": "mood", "spacing": 1})
        same(api.timeline(a, concept="mood"), f"/tracks/{a}/tags/timeline", concept="mood")
        same(api.vectors(a, windows=True), f"/tracks/{a}/vectors", windows="true")
        same(api.track(a), f"/tracks/{a}")
        same(api.tracks(limit=2, offset=1), "/tracks", limit=2, offset=1)
        same(api.tags(), "/tags")
        same(api.facets(), "/facets")

        clip = tmp_path / "clip.wav"
        sf.write(clip, song("beta")[SR:3 * SR], SR)
        by_clip = api.similar_to_clip(clip, k=3, regions=True)
        with open(clip, "rb") as f:
            want = raw.post("/similar", files={"file": ("clip.wav", f)},
                            data={"k": "3", "regions": "true"}).json()
        assert by_clip.model_dump(mode="json") == want
        assert by_clip.results[0].track.id == ids["beta"]  # identified by its fingerprint
        seeds = api.query(positive=[a], negative=[b], positive_clips=[clip], k=3)
        assert seeds.query.seeds is not None and seeds.query.seeds.positive_clips == 1
        assert {a, b}.isdisjoint(r.track.id for r in seeds.results)

        job = api.add_tracks_async([encode(song("zeta"), SR, "flac")])
        for _ in range(600):  # a guard against a hang, not a time limit on the job
            job = api.job(job.id)
            if job.state in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job.state == "done" and job.items[0].track_id is not None

        with pytest.raises(ApiError) as missing:
            api.similar(999_999)
        assert (missing.value.status, missing.value.detail) == (404, "track 999999 not found")
        with pytest.raises(ApiError) as unread:
            api.search(text="polka")
        assert unread.value.status == 422 and "not understood: polka" in unread.value.detail
        with pytest.raises(ApiError) as unknown:
            api.similar(a, year=1990)
        assert unknown.value.status == 422 and "unknown query parameter 'year'" in (
            unknown.value.detail)
        with pytest.raises(ApiError) as denied:
            Client(server.base_url, api_key="wrong-key-0123456789").add_track(b"RIFF")
        assert (denied.value.status, denied.value.detail) == (403, "invalid API key")

        # The commands: the same answers, as JSON or as a table.
        url = ("--url", server.base_url)
        code, out, _ = cli(capsys, "similar", str(a), "-k", "3", "--facet", "mood", *url,
                           "--json")
        assert code == 0 and json.loads(out) == api.similar(a, k=3, facet="mood").model_dump(
            mode="json")
        code, out, _ = cli(capsys, "similar", str(a), "-k", "3", "--filter", "artist=Bob", *url)
        lines = out.splitlines()
        assert code == 0 and lines[0] == "facet weights: genre 0.25, mood 0.25, " \
            "instrument 0.25, era 0.25"
        assert [line.split()[1] for line in lines[2:]] == [str(ids["gamma"]), str(ids["delta"])]
        code, out, _ = cli(capsys, "similar", str(clip), "-k", "2", "--regions", *url)
        assert code == 0 and "[same recording, from 1.0 s]" in out.splitlines()[2]
        code, out, _ = cli(capsys, "similar", str(a), str(clip), "--negative", str(b), "-k", "3",
                           *url, "--json")
        assert code == 0 and json.loads(out) == api.query(
            positive=[a], positive_clips=[clip], negative=[b], k=3).model_dump(mode="json")
        code, out, _ = cli(capsys, "search", "calm", "piano,", "no", "drums", *url)
        assert code == 0 and out.splitlines()[0] == "read as: calm, piano, not drums"
        code, out, _ = cli(capsys, "playlist", str(a), str(b), "-k", "3", *url)
        steps = api.playlist(a, b, k=3).results
        assert code == 0 and [line.split()[1] for line in out.splitlines()[2:]] == [
            str(s.track.id) for s in steps]
        code, out, _ = cli(capsys, "timeline", str(a), "--concept", "mood", *url)
        windows = api.timeline(a, concept="mood").windows
        assert code == 0 and len(out.splitlines()) == 1 + len(windows)

        code, _, err = cli(capsys, "playlist", str(a), str(a), *url)
        assert code == 2 and err.startswith("musicprism: 422")
        code, _, err = cli(capsys, "similar", "999999", *url)
        assert code == 1 and "track 999999 not found" in err
        code, _, err = cli(capsys, "search", "polka", *url)
        assert code == 2 and "not understood: polka" in err
        code, _, err = cli(capsys, "similar", str(a), "--filter", "year=1990", *url)
        assert code == 2 and "unknown query parameter 'year'" in err

        # The catalogue out and back in: a deleted track returns, with its vectors.
        n = api.tracks().total
        assert api.export(tmp_path / "cat.parquet") == n
        before = api.vectors(b, windows=True)
        api.delete_track(b)
        with pytest.raises(ApiError, match="404"):
            api.track(b)
        back = api.import_file(tmp_path / "cat.parquet")
        assert (back.rows, back.added, back.present) == (n, 1, n - 1)
        (new_b,) = [m.track_id for m in back.ids if m.source_id == b]
        assert api.vectors(new_b, windows=True).windows == before.windows
        assert new_b in {r.track.id for r in api.similar(a, k=n).results}
        again = api.import_file(tmp_path / "cat.parquet")
        assert (again.added, again.present) == (0, n)
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
        with pytest.raises(ApiError) as bad:
            api.import_file(tmp_path / "bad.parquet")
        assert bad.value.status == 422 and bad.value.detail.startswith(
            "invalid file 'bad.parquet': the upload is not a Parquet file")
        assert "nothing was imported" in bad.value.detail and str(tmp_path) not in (
            bad.value.detail)
        with pytest.raises(ApiError) as keyless:
            Client(server.base_url, api_key="").export(tmp_path / "x.parquet")
        assert keyless.value.status == 401


@pytest.mark.parametrize(("argv", "message"), [
    (["similar", "no-such-file.wav"], "'no-such-file.wav' is neither an audio file nor a "
                                      "track id"),
    (["similar", "12", "--start", "3"], "--start and --duration apply to a clip"),
    (["similar", "12", "13", "--regions"], "--start, --duration and --regions take one seed"),
    (["similar", "12", "--filter", "year_min"], "--filter takes NAME=VALUE"),
    (["search"], "give a text or --tag"),
])
def test_bad_command_lines_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                  message: str) -> None:
    code, _, err = cli(capsys, *argv, "--url", "http://127.0.0.1:9")
    assert code == 2 and message in err


@pytest.mark.parametrize("argv", [["timeline", "1_0"], ["timeline", "١"], ["search", "-k", "x"]])
def test_numbers_follow_the_api_grammar(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_a_track_id_is_ascii_digits(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "similar", "1_0", "--url", "http://127.0.0.1:9")
    assert code == 2 and "'1_0' is neither an audio file nor a track id" in err


def test_no_server_is_a_clear_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "search", "jazz", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the server" in err
    with pytest.raises(ApiError) as exc:
        Client("http://127.0.0.1:9").tags()
    assert exc.value.status == 0


def test_the_query_string_and_multipart_encodings() -> None:
    assert query_string({"k": 3, "tag": ["a b", "c&d"], "q": None, "regions": True,
                         "exclude": []}) == "k=3&tag=a+b&tag=c%26d&regions=true"
    body, content_type = multipart({"k": 5, "positive": [1, 2], "facet": None},
                                   {"file": [b"\x00RIFF\xff"], "none": []})
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = [(p.get_param("name", header="content-disposition"),
              p.get_param("filename", header="content-disposition"),
              p.get_payload(decode=True)) for p in message.get_payload()]
    assert parts == [("k", None, b"5"), ("positive", None, b"1"), ("positive", None, b"2"),
                     ("file", "clip-0", b"\x00RIFF\xff")]
