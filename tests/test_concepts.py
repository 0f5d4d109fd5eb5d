"""Concept spaces: schema errors, CuPL form, incidence, embedding cache, the real MiniLM encoder,
``videossl concepts generate`` against a fake local endpoint, and the shipped prompts files."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest
import torch

from videossl.cli import main as videossl_main
from videossl.concepts import embed_concepts, load_concepts, load_text_encoder, readable_name
from videossl.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, obj, name="c.json") -> Path:
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


TINY = {"name": "tiny", "classes": [
    {"name": "biking", "descriptions": ["a person rides a bicycle"], "attributes": ["bicycle", "outdoors"]},
    {"name": "swimming", "descriptions": ["a person swims in a pool", "arms stroke in water"],
     "attributes": ["water", "pool", "outdoors"]},
    {"name": "reading", "descriptions": ["a person reads a book"], "attributes": []}]}


@pytest.mark.parametrize("obj, needle", [
    ("{not json", "malformed JSON"),
    ({"name": "x"}, "missing 'classes'"),
    ({"classes": [{"name": "a", "descriptions": []}]}, "classes[0] ('a'): 'descriptions' is empty"),
    ({"classes": [{"name": "a", "descriptions": ["x"]}, {"name": "a", "descriptions": ["y"]}]},
     "classes[1] ('a'): duplicate class name"),
    ({"classes": [{"name": " ", "descriptions": ["x"]}]}, "classes[0]: empty or missing class name"),
    ({"classes": [{"name": "a", "descriptions": ["x", ""]}]}, "descriptions[1] must be a non-empty string"),
    ({"classes": [{"name": "a"}]}, "missing 'descriptions'"),
    ({"jumping": []}, "class 'jumping': 'descriptions' is empty"),
])
def test_schema_errors_name_file_and_entry(tmp_path, obj, needle):
    p = write(tmp_path, obj)
    with pytest.raises(InputError) as e:
        load_concepts(p)
    msg = str(e.value)
    assert str(p) in msg and needle in msg and "\n" not in msg


def test_cli_prints_one_error_line(tmp_path, capsys):
    p = write(tmp_path, {"classes": [{"name": "a", "descriptions": []}]})
    assert videossl_main(["concepts", "check", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(p) in err and len(err.splitlines()) == 1


def test_cupl_form(tmp_path):
    s = load_concepts(write(tmp_path, {"ApplyEyeMakeup": ["eye shadow is brushed on", "mascara"],
                                       "brush_hair": ["a person brushes hair"]}, "cupl.json"))
    assert s.name == "cupl" and s.class_names == ["ApplyEyeMakeup", "brush_hair"]
    assert s.descriptions["ApplyEyeMakeup"] == ["eye shadow is brushed on", "mascara"]
    assert s.attribute_vocab == [] and s.incidence().shape == (2, 0)
    assert readable_name("ApplyEyeMakeup") == "apply eye makeup" and readable_name("brush_hair") == "brush hair"


def test_incidence_matrix(tmp_path):
    s = load_concepts(write(tmp_path, TINY))
    assert s.attribute_vocab == ["bicycle", "outdoors", "pool", "water"]
    assert s.incidence().tolist() == [[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]]


class CountingEncoder:
    """Deterministic bag-of-characters embeddings; counts how often it is asked."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def encode_text(self, texts):
        self.calls += 1
        out = torch.zeros(len(texts), 32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % 32] += 1
        return out


def test_embedding_shapes_cache_hit_and_invalidation(tmp_path):
    s = load_concepts(write(tmp_path, TINY))
    enc = CountingEncoder()
    a = embed_concepts(s, enc, cache_dir=tmp_path / "cache")
    assert a.actions.shape == (3, 32) and a.attributes.shape == (4, 32) and a.incidence.shape == (3, 4)
    assert torch.allclose(a.actions.norm(dim=1), torch.ones(3)) and torch.allclose(a.attributes.norm(dim=1), torch.ones(4))
    assert enc.calls == 1
    b = embed_concepts(s, enc, cache_dir=tmp_path / "cache")
    assert enc.calls == 1 and torch.equal(a.actions, b.actions) and b.cache_path == a.cache_path
    assert torch.equal(b["incidence"], a.incidence)
    TINY2 = json.loads(json.dumps(TINY))
    TINY2["classes"][0]["descriptions"][0] = "a person rides a bicycle uphill"
    c = embed_concepts(load_concepts(write(tmp_path, TINY2)), enc, cache_dir=tmp_path / "cache")
    assert enc.calls == 2 and c.cache_path != a.cache_path and not torch.equal(c.actions[0], a.actions[0])
    assert torch.equal(c.actions[1], a.actions[1])
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2


def test_minilm_encoder_similarity(tmp_path):
    enc = load_text_encoder(None)
    e = enc.encode_text(["a person riding a bike", "biking", "swimming"])
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    s = load_concepts(write(tmp_path, TINY))
    ce = embed_concepts(s, enc, cache_dir=tmp_path / "cache")
    q = enc.encode_text(["a man pedals a bicycle down the street"])[0]
    assert ce.class_names[int((ce.actions @ q).argmax())] == "biking"


def test_unknown_encoder_id_fails_in_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError) as e:
        load_text_encoder("no-such-org/no-such-encoder-xyz")
    assert "no-such-org/no-such-encoder-xyz" in str(e.value) and "\n" not in str(e.value)


GOOD = {"descriptions": ["a {l} video one", "a {l} video two", "a {l} video three", "extra"],
        "attributes": ["Outdoors", "{l} gear", "moving"]}


class FakeLLM(http.server.BaseHTTPRequestHandler):
    """OpenAI-compatible /v1/chat/completions: canned answers; ``bad`` classes first get garbage."""

    bad: dict = {}
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        label = user.split('"')[1]
        FakeLLM.seen.append(label)
        if FakeLLM.bad.get(label, 0) > 0:
            FakeLLM.bad[label] -= 1
            content = "Sure! Here are some descriptions: {descriptions: [oops"
        else:
            content = "```json\n" + json.dumps(GOOD).replace("{l}", label) + "\n```"
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def fake_llm():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    FakeLLM.seen.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_generate_retries_and_resumes(tmp_path, fake_llm, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("jumping\n# a comment\n\nrunning\nswimming\n")
    out = tmp_path / "prompts" / "x.json"
    FakeLLM.bad = {"running": 1, "swimming": 99}  # running: one malformed answer; swimming: always
    rc = videossl_main(["concepts", "generate", "--labels", str(labels), "--out", str(out), "--llm", fake_llm,
                        "--retries", "2"])
    assert rc == 2 and "swimming" in capsys.readouterr().err
    partial = load_concepts(out)
    assert partial.class_names == ["jumping", "running"]
    assert FakeLLM.seen.count("running") == 2 and FakeLLM.seen.count("swimming") == 3
    assert partial.classes[1].descriptions == ["a running video one", "a running video two", "a running video three"]
    assert partial.classes[1].attributes == ["outdoors", "running gear", "moving"]
    FakeLLM.bad = {}
    FakeLLM.seen.clear()
    assert videossl_main(["concepts", "generate", "--labels", str(labels), "--out", str(out), "--llm", fake_llm]) == 0
    assert FakeLLM.seen == ["swimming"]  # resumed: only the missing class was asked
    s = load_concepts(out)
    assert s.class_names == ["jumping", "running", "swimming"] and s.name == "x"
    assert s.incidence()[:, s.attribute_vocab.index("outdoors")].tolist() == [1, 1, 1]


def test_generate_rejects_bad_label_file(tmp_path):
    labels = write(tmp_path, "a\nb\na\n", "labels.txt")
    assert videossl_main(["concepts", "generate", "--labels", str(labels), "--out", str(tmp_path / "o.json"),
                          "--llm", "http://127.0.0.1:9/v1"]) == 2


@pytest.mark.parametrize("fname, name, count, example", [
    ("kinetics.json", "kinetics400", 400, "passing American football (not in game)"),
    ("ucf101.json", "ucf101", 101, "ApplyEyeMakeup"),
    ("hmdb51.json", "hmdb51", 51, "brush_hair"),
    ("synthetic_actions.json", "synthetic_actions", 7, "moving left"),
])
def test_shipped_prompts(fname, name, count, example):
    from videossl.concepts.shipped import shipped_concepts

    path = shipped_concepts()[fname[:-5]]  # package data: present in an installed toolkit, not only a clone
    assert (ROOT / "prompts" / fname).resolve() == (ROOT / "videossl" / "prompts" / fname).resolve()
    s = load_concepts(path)
    assert load_concepts(f"prompts/{fname}").name == load_concepts(fname[:-5]).name == s.name
    assert s.name == name and len(s) == count == len(set(s.class_names)) and example in s.class_names
    assert all(len(c.descriptions) >= 3 and 3 <= len(c.attributes) <= 6 for c in s.classes)
    inc = s.incidence()
    assert inc.sum(0).max() >= 3 or count < 10  # attributes recur across classes


def test_generate_with_local_causal_lm_plumbing(tmp_path):
    """A random tiny GPT-2 (the MiniLM tokenizer) loads through the transformers pipeline; its
    babble is rejected by validation and the error names the class (no partial file written)."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from videossl.concepts.embed import default_text_encoder_path
    from videossl.concepts.generate import LocalCausalLM, generate

    tok = AutoTokenizer.from_pretrained(default_text_encoder_path())
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_positions=512, n_embd=16, n_layer=1, n_head=2)
                    ).save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    llm = LocalCausalLM(str(tmp_path / "lm"), max_new_tokens=8)
    assert isinstance(llm("system", "user"), str)
    with pytest.raises(InputError, match="class 'waving': no valid answer after 1 attempts"):
        generate(["waving"], tmp_path / "out.json", llm, retries=0, log=lambda *_: None)
    assert not (tmp_path / "out.json").exists()
