"""Text that is not valid Unicode (a lone surrogate, JSON's "\\ud800") in any field of any
request: a 422 naming the field, and the service and its trainer live on. (Hashing one
crashed the process; a subprocess keeps a regression from taking the test run with it.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from fastapi.testclient import TestClient
    from streamlearn.models import LogisticRegression
    from streamlearn.runner import Runner
    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents

    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, ttl=60, drain_at_end=False), live)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token="t"))
    auth = {"content-type": "application/json", "Authorization": "Bearer t"}
    answers = []
    for path, body in json.loads(sys.argv[1]):
        answer = client.post(path, content=body, headers=auth)
        answers.append([path, answer.status_code, answer.text[:3000]])
    good = client.post("/learn", json={"events": [{"features": {"a": "é"}, "label": 1}]},
                       headers=auth)
    deadline = time.monotonic() + 30
    while trainer.runner.counters["learned"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    answers.append(["alive", good.status_code, trainer.runner.counters["learned"]])
    answers.append(["error", repr(trainer.error), 0])
    trainer.stop()
    print(json.dumps(answers))
    """
)

S = "\\ud800"  # as JSON text: a lone surrogate
BODIES = [
    ("/predict", f'{{"features": {{"a": "{S}"}}}}'),
    ("/predict", f'{{"features": {{"{S}": 1}}}}'),
    ("/predict", f'{{"id": "{S}", "features": {{"a": 1}}}}'),
    ("/predict", f'{{"events": [{{"features": {{"a": "x{S}y"}}}}]}}'),
    ("/predict", f'{{"columns": {{"{S}": [1]}}}}'),
    ("/predict", f'{{"columns": {{"a": ["{S}"]}}}}'),
    ("/rank", f'{{"context": {{"u": "{S}"}}, "candidates": [{{"features": {{"a": 1}}}}]}}'),
    ("/learn", f'{{"events": [{{"features": {{"a": "{S}"}}, "label": 1}}]}}'),
    ("/learn", f'{{"events": [{{"id": "{S}", "features": {{"a": 1}}, "label": 1}}]}}'),
    ("/feedback", f'{{"id": "{S}", "label": 1}}'),
    ("/feedback", f'{{"id": "e", "label": "{S}"}}'),
    ("/feedback", f'{{"id": "e", "label": 1, "task": "{S}"}}'),
    ("/decide", f'{{"context": {{"a": "{S}"}}}}'),
    ("/recommend", f'{{"user": "{S}"}}'),
]


def test_lone_surrogates_anywhere_are_refused_and_nothing_dies():
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, json.dumps(BODIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]  # no crash (a segfault is -11)
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    for path, status, text in answers[:-2]:
        # 422 naming the field; a model without arms or users says so first (409/404)
        assert status in (404, 409, 422), (path, status, text)
        if status == 422:
            assert "Unicode" in text, (path, text)
    assert [a[:2] for a in answers if a[0] in ("/learn", "/feedback")] == [
        [p, 422] for p, _ in BODIES if p in ("/learn", "/feedback")
    ]
    assert answers[-2] == ["alive", 200, 1]  # the trainer learns on
    assert answers[-1][1] == "None"
