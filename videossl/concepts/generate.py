"""``videossl concepts generate``: write a concept space from a label list with a language model.

    videossl concepts generate --labels labels.txt --out prompts/X.json --llm URL_OR_PATH

The LLM is either an OpenAI-compatible chat endpoint (``http(s)://.../v1``; plain urllib + JSON,
key from ``$OPENAI_API_KEY`` or ``--api-key-env``) or a local Hugging Face causal LM folder
(transformers ``pipeline``). Per class it is asked for JSON ``{"descriptions": [...],
"attributes": [...]}``, shown the attributes used so far so that the vocabulary is shared across
classes (the incidence matrix is only useful when attributes recur). Answers are validated; a
malformed one is asked again a bounded number of times. After every class the partial concept
file is written atomically, so an interrupted run (or one stopped by a class the model keeps
getting wrong) continues where it stopped when re-run with the same arguments.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from videossl.concepts.schema import ConceptClass, ConceptSpace, load_concepts
from videossl.errors import InputError

SYSTEM = ("You write concise, visual descriptions of human actions for a video recognition model. "
          "Answer with a single JSON object and nothing else.")

USER = """Action class: "{label}"
Return JSON: {{"descriptions": [{n} short sentences (under 15 words each) describing what a video of this action looks like: the people, objects, scene and body motion], "attributes": [3 to 6 short visual attributes (1-3 words, lowercase): objects, scenes or body motions]}}.
Reuse attributes from this list where they fit: {vocab}"""


def read_labels(path: str | os.PathLike) -> list[str]:
    """One label per line (blank lines and ``#`` comments skipped), or a JSON list of strings."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(p, f"cannot read label file: {exc.strerror or exc}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(p, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
        lines = [(i + 1, s) for i, s in enumerate(items)]
    else:
        lines = [(i + 1, s) for i, s in enumerate(text.splitlines())]
    labels, seen = [], {}
    for lineno, s in lines:
        if not isinstance(s, str):
            raise InputError(p, f"entry {lineno}: label must be a string")
        s = s.strip()
        if not s or s.startswith("#"):
            continue
        if s in seen:
            raise InputError(p, f"duplicate label {s!r} (first on line {seen[s]})", line=lineno)
        seen[s] = lineno
        labels.append(s)
    if not labels:
        raise InputError(p, "no labels")
    return labels


class OpenAIChat:
    """An OpenAI-compatible ``/chat/completions`` endpoint, spoken to with urllib."""

    def __init__(self, url: str, model: str = "gpt-4o-mini", api_key: str | None = None,
                 timeout: float = 120.0, temperature: float = 0.7):
        url = url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions" if url.endswith("/v1") else "/v1/chat/completions"
        self.url, self.model, self.api_key, self.timeout, self.temperature = url, model, api_key, timeout, temperature

    def __call__(self, system: str, user: str) -> str:
        body = json.dumps({"model": self.model, "temperature": self.temperature,
                           "messages": [{"role": "system", "content": system},
                                        {"role": "user", "content": user}]}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
        try:
            return data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"unexpected response shape: {str(data)[:200]}") from None


class LocalCausalLM:
    """A local Hugging Face causal LM (a folder), through the transformers text-generation pipeline."""

    def __init__(self, path: str, max_new_tokens: int = 300):
        from transformers import pipeline

        try:
            self.pipe = pipeline("text-generation", model=path, device_map=None)
        except Exception as exc:
            raise InputError(path, f"cannot load a causal LM from it: {str(exc).splitlines()[0]}") from None
        self.max_new_tokens = max_new_tokens

    def __call__(self, system: str, user: str) -> str:
        tok = self.pipe.tokenizer
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                             tokenize=False, add_generation_prompt=True)
        else:
            prompt = f"{system}\n\n{user}\n\nJSON:"
        out = self.pipe(prompt, max_new_tokens=self.max_new_tokens, do_sample=False, return_full_text=False)
        return out[0]["generated_text"]


def make_llm(spec: str, model: str = "gpt-4o-mini", api_key_env: str = "OPENAI_API_KEY"):
    if re.match(r"^https?://", spec):
        return OpenAIChat(spec, model=model, api_key=os.environ.get(api_key_env))
    if Path(spec).expanduser().exists():
        return LocalCausalLM(str(Path(spec).expanduser()))
    raise InputError(spec, "--llm must be an http(s) URL of an OpenAI-compatible endpoint or a local model folder")


def parse_answer(text: str, n_descriptions: int) -> tuple[list[str], list[str]]:
    """The model's reply → (descriptions, attributes); ``ValueError`` saying what is wrong."""
    text = re.sub(r"```(?:json)?", "", text)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    try:
        obj = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON ({exc.msg})") from None
    descs, attrs = obj.get("descriptions"), obj.get("attributes")
    if not isinstance(descs, list) or not all(isinstance(d, str) and d.strip() for d in descs) or not descs:
        raise ValueError("'descriptions' must be a non-empty list of strings")
    if not isinstance(attrs, list) or not all(isinstance(a, str) and a.strip() for a in attrs) or not attrs:
        raise ValueError("'attributes' must be a non-empty list of strings")
    descs = [" ".join(d.split()) for d in descs][:n_descriptions]
    attrs = list(dict.fromkeys(" ".join(a.lower().split()) for a in attrs))
    if any(len(a.split()) > 4 for a in attrs):
        raise ValueError("attributes must be short phrases (at most 4 words)")
    return descs, attrs[:6]


def generate(labels: list[str], out: str | os.PathLike, llm, name: str | None = None, n_descriptions: int = 3,
             retries: int = 3, log=print) -> ConceptSpace:
    """Ask ``llm(system, user) -> str`` about every label not yet in ``out``; write after each."""
    out = Path(out)
    from videossl.utils import atomic_write_json

    done: dict[str, ConceptClass] = {}
    if out.exists():
        prev = load_concepts(out)
        done = {c.name: c for c in prev.classes}
        name = name or prev.name
        extra = [c for c in done if c not in set(labels)]
        if extra:
            raise InputError(out, f"existing file has classes not in the label list (e.g. {extra[0]!r}); "
                             "use another --out or remove the file")
    name = name or out.stem
    vocab = Counter(a for c in done.values() for a in c.attributes)
    todo = [l for l in labels if l not in done]
    if done:
        log(f"resuming: {len(done)} of {len(labels)} classes already in {out}")
    for i, label in enumerate(todo):
        user = USER.format(label=label, n=n_descriptions,
                           vocab=", ".join(a for a, _ in vocab.most_common(60)) or "(none yet)")
        problem = None
        for attempt in range(retries + 1):
            try:
                descs, attrs = parse_answer(llm(SYSTEM, user), n_descriptions)
                break
            except (urllib.error.URLError, OSError) as exc:
                problem = f"request failed: {getattr(exc, 'reason', exc)}"
                time.sleep(min(2.0 ** attempt, 10.0) * 0.1)
            except ValueError as exc:
                problem = str(exc)
            log(f"  {label!r}: attempt {attempt + 1} rejected ({problem})")
        else:
            raise InputError(out, f"class {label!r}: no valid answer after {retries + 1} attempts "
                             f"(last: {problem}); re-run to resume")
        done[label] = ConceptClass(label, descs, attrs)
        vocab.update(attrs)
        space = ConceptSpace(name, [done[l] for l in labels if l in done])
        atomic_write_json(out, space.to_json())
        log(f"[{len(done)}/{len(labels)}] {label}: {len(descs)} descriptions, attributes {', '.join(attrs)}")
    return ConceptSpace(name, [done[l] for l in labels], str(out))


def register(subparsers) -> None:
    p = subparsers.add_parser("concepts", help="concept spaces (prompts/*.json): generate, check")
    sub = p.add_subparsers(dest="concepts_command", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("generate", help="write a concept space from a label list with an LLM (resumable)")
    g.add_argument("--labels", required=True, help="label file: one class name per line, or a JSON list")
    g.add_argument("--out", required=True, help="concept JSON to write (re-running continues it)")
    g.add_argument("--llm", default=os.environ.get("VIDEOSSL_LLM"),
                   help="OpenAI-compatible endpoint URL or local Hugging Face causal LM folder ($VIDEOSSL_LLM)")
    g.add_argument("--model", default=os.environ.get("VIDEOSSL_LLM_MODEL", "gpt-4o-mini"),
                   help="model name sent to the endpoint")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    g.add_argument("--name", help="concept space name (default: the output file's stem)")
    g.add_argument("--num-descriptions", type=int, default=3)
    g.add_argument("--retries", type=int, default=3, help="re-asks per class after a malformed answer")
    g.set_defaults(func=run)
    c = sub.add_parser("check", help="validate a concept file and print its counts")
    c.add_argument("files", nargs="+")
    c.set_defaults(func=run_check)


def run(args) -> int:
    if not args.llm:
        raise InputError(None, "no language model: pass --llm URL_OR_PATH (or set $VIDEOSSL_LLM)")
    labels = read_labels(args.labels)
    llm = make_llm(args.llm, model=args.model, api_key_env=args.api_key_env)
    space = generate(labels, args.out, llm, name=args.name, n_descriptions=args.num_descriptions,
                     retries=args.retries)
    print(f"wrote {args.out}: {len(space)} classes, {len(space.attribute_vocab)} attributes")
    return 0


def run_check(args) -> int:
    for f in args.files:
        s = load_concepts(f)
        print(f"{f}: {s.name}, {len(s)} classes, {len(s.attribute_vocab)} attributes, "
              f"{sum(len(c.descriptions) for c in s.classes)} descriptions")
    return 0
