"""train --data chitchat, evaluate and chat end to end on the fixture corpus (the real corpus is
not needed), chat driven through a pseudo-terminal, and the inputs they refuse."""

import contextlib
import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minis2s.chat import Chatbot
from minis2s.cli import main
from minis2s.data.dialogue import context

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "datasets" / "fixtures" / "chitchat.json"
TINY = ["--emb", "16", "--hidden", "16", "--batch-size", "8", "--eval-every", "10", "--quiet"]


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    """(run directory, train's JSON summary) of 30 steps on the fixture conversations."""
    out = tmp_path_factory.mktemp("runs") / "chat"
    code, stdout, err = run(["train", "--data", "chitchat", "--data-dir", str(FIXTURE), "--out", str(out),
                             "--max-steps", "30", "--lr", "1e-2", "--json"] + TINY)
    assert code == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_train_reports_perplexity_bleu_rouge_and_distinct_n_on_the_test_conversations(chat_run):
    out, summary = chat_run
    for key in ("test_ppl", "test_bleu", "test_rouge_l", "test_distinct_1", "test_distinct_2"):
        assert key in summary
    assert 1.0 < summary["test_ppl"] < 100.0  # trained: far below the ~90-token vocabulary's uniform guess
    assert 0.0 <= summary["test_distinct_1"] <= 1.0 and 0.0 <= summary["test_rouge_l"] <= 100.0
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = [h["val_ppl"] for h in history if "val_ppl" in h]
    assert val[-1] < val[0]  # validation perplexity, the recipe's metric, went down


def test_evaluate_gives_the_figures_train_reported(chat_run):
    out, summary = chat_run
    code, stdout, err = run(["evaluate", "--checkpoint", str(out), "--json"])
    assert code == 0, err
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["split"] == "test" and figures["n_sentences"] > 0
    for key in ("ppl", "bleu", "rouge_l", "distinct_1", "distinct_2"):
        assert figures[key] == pytest.approx(summary[f"test_{key}"], abs=1e-4)


def test_the_context_window_is_carried_between_turns_and_reset_clears_it(chat_run, monkeypatch):
    from minis2s import tasks

    bot = Chatbot.load(chat_run[0])
    seen, replies = [], []
    decode = tasks.decode_tokens

    def recording(model, src_vocab, tgt_vocab, tokens, *args, **kw):
        seen.append(tokens[0])
        replies.append(decode(model, src_vocab, tgt_vocab, tokens, *args, **kw)[0])
        assert len(replies[-1]) <= bot.max_response
        return [replies[-1]]

    monkeypatch.setattr(tasks, "decode_tokens", recording)
    bot.reply("Hello")
    assert seen[-1] == ["hello"]
    bot.reply("What do you do?")
    # the checkpoint's window: the last two turns, the bot's first reply and the new line
    assert bot.turns == 2 and seen[-1] == context([replies[0], ["what", "do", "you", "do", "?"]], 2, 50)
    bot.reply("Cool")
    assert seen[-1] == context([replies[1], ["cool"]], 2, 50)
    bot.reset()
    assert bot.context_tokens() == []
    bot.reply("hi")
    assert seen[-1] == ["hi"]


# --------------------------------------------------------------------------- the terminal


class Terminal:
    """``python -m minis2s chat`` on a pseudo-terminal that is its controlling terminal, so
    Ctrl-C and Ctrl-D typed into it act as they do for a person at a keyboard."""

    def __init__(self, argv):
        import fcntl
        import termios

        master, slave = os.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "dumb"}

        def become_controlling_terminal():  # after start_new_session's setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([sys.executable, "-m", "minis2s", "chat"] + argv, stdin=slave, stdout=slave,
                                     stderr=slave, cwd=ROOT, env=env, start_new_session=True,
                                     preexec_fn=become_controlling_terminal)  # noqa: PLW1509 (no threads here)
        os.close(slave)
        self.master, self.seen = master, ""

    def expect(self, text, timeout=60):
        """Read until ``text`` appears after what was read before; returns what came before it."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout} s for {text!r}; the terminal shows {self.seen!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.seen, f"chat ended before {text!r}: {self.seen!r}"
                self.seen += chunk.decode("utf-8", "replace")
        before, _, self.seen = self.seen.partition(text)
        return before

    def wait_for_the_read(self, timeout=60):
        """Wait until the chat sleeps in its read of the next line. A prompt on the screen is not
        enough: input() notices a signal only when it interrupts the read, so a SIGINT that lands
        between the prompt and the read is seen at the next key. No person is that quick, but a
        test on a loaded machine is (4 hangs in 20 tries with four busy loops beside it)."""
        deadline = time.monotonic() + timeout
        stat = Path(f"/proc/{self.proc.pid}/stat")
        if not stat.exists():  # no /proc (macOS): give it time instead
            time.sleep(1.0)
            return
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "S":  # the state after "(comm)"
            assert time.monotonic() < deadline, f"chat never waited for input; the terminal shows {self.seen!r}"
            time.sleep(0.01)

    def type(self, keys: str):
        os.write(self.master, keys.encode())

    def close(self, timeout=30):
        """Wait for the exit; returns (status, everything shown after the last expect)."""
        rest = self.seen
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or select.select([self.master], [], [], 0)[0]:
            assert time.monotonic() < deadline, f"chat did not exit; the terminal shows {rest!r}"
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                rest += chunk.decode("utf-8", "replace")
        code = self.proc.wait(timeout)
        os.close(self.master)
        return code, rest


@pytest.fixture
def terminal(chat_run):
    terminals = []

    def start(*argv):
        terminals.append(Terminal(["--checkpoint", str(chat_run[0]), *argv]))
        return terminals[-1]

    yield start
    for t in terminals:
        if t.proc.poll() is None:
            t.proc.kill()
            t.proc.wait()


def test_chat_in_a_terminal_replies_resets_and_quits(terminal):
    t = terminal()
    t.expect("you> ")
    t.type("hello\r")  # Enter on a terminal is a carriage return
    t.expect("bot> ")
    t.expect("you> ")
    t.type("/reset\r")
    t.expect("a new conversation")
    t.expect("you> ")
    t.type("/nonsense\r")
    t.expect("unknown command /nonsense")
    t.expect("you> ")
    t.type("/quit\r")
    code, rest = t.close()
    assert code == 0 and "Traceback" not in rest


@pytest.mark.parametrize("key", ["\x04", "\x03"], ids=["ctrl-d", "ctrl-c"])
def test_ctrl_d_and_ctrl_c_end_the_chat_cleanly(terminal, key):
    t = terminal("--sample", "--temperature", "0.7")
    t.expect("you> ")
    t.type("how are you?\r")
    t.expect("bot> ")
    t.expect("you> ")
    t.wait_for_the_read()
    t.type(key)
    code, rest = t.close()
    assert code == 0 and "Traceback" not in rest and "KeyboardInterrupt" not in rest


def test_chat_json_prints_the_exchanges_last(chat_run, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n/reset\nwhat do you do?\n"))
    code, stdout, err = run(["chat", "--checkpoint", str(chat_run[0]), "--beam", "2", "--json"])
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert [you for you, _ in summary["exchanges"]] == ["hello", "what do you do?"]


# --------------------------------------------------------------------------- refused


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "qa"
    code, _, err = run(["train", "--task", "qa-1", "--arch", "recurrent", "--train-size", "50", "--test-size", "5",
                        "--max-steps", "2", "--emb", "8", "--hidden", "8", "--out", str(out), "--quiet"])
    assert code == 0, err
    return out


def test_chat_refuses_a_checkpoint_that_is_not_a_dialogue_model(toy_run):
    code, _, err = run(["chat", "--checkpoint", str(toy_run)])
    assert code == 2 and "not on dialogue" in one_line(err) and "train --data chitchat" in err


def test_chat_refuses_a_language_model_pointing_to_generate(tmp_path):
    import shutil

    from minis2s.data import multi30k

    corpus = tmp_path / "m30k"
    corpus.mkdir()
    for split in multi30k.SPLITS:
        shutil.copy(ROOT / "datasets" / "fixtures" / "tiny.en", corpus / multi30k.file_name(split, "en"))
    out = tmp_path / "lm"
    code, _, err = run(["train", "--task", "lm", "--data", "multi30k", "--data-dir", str(corpus), "--out", str(out),
                        "--max-steps", "2", "--emb", "8", "--hidden", "8", "--batch-size", "4", "--bptt", "8", "--quiet"])
    assert code == 0, err
    code, _, err = run(["chat", "--checkpoint", str(out)])
    assert code == 2 and "not on dialogue" in one_line(err) and "use generate" in err


@pytest.mark.parametrize("flags, message", [
    (["--sample", "--beam", "3"], "choose one of them"),
    (["--sample", "--temperature", "0"], "--temperature must be a positive number"),
    (["--sample", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["--top-k", "5"], "--top-k shapes sampled replies: add --sample"),
    (["--temperature", "0.5"], "--temperature shapes sampled replies: add --sample"),
])
def test_chat_refuses_bad_decoding_options_before_talking(chat_run, flags, message):
    code, _, err = run(["chat", "--checkpoint", str(chat_run[0])] + flags)
    assert code == 2 and message in one_line(err)


def test_train_without_the_corpus_package_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "chitchat_dataset", None)
    out = tmp_path / "run"
    code, _, err = run(["train", "--data", "chitchat", "--out", str(out), "--max-steps", "1"] + TINY)
    assert code == 2 and "'.[dialogue]'" in one_line(err)
    assert not (out / "checkpoints").exists()


def test_turns_belongs_to_chitchat_and_lm_to_multi30k(capsys):
    for argv, message in ((["--task", "qa-1", "--turns", "3"], "--turns belongs to --data chitchat"),
                          (["--task", "lm", "--data", "chitchat"], "--task lm models --data multi30k"),
                          (["--task", "qa-9"], "invalid choice: 'qa-9'")):
        with pytest.raises(SystemExit) as info:
            main(["train", "--out", "x"] + argv)
        assert info.value.code == 2 and message in capsys.readouterr().err.strip().splitlines()[-1]


def test_dialogue_training_and_evaluation_read_nothing_back_from_the_device(tmp_path, numpy_afterwards):
    """On the strict backend, which refuses hidden host reads, a dialogue run trains and is scored."""
    out = tmp_path / "strict"
    code, stdout, err = run(["train", "--backend", "strict", "--data", "chitchat", "--data-dir", str(FIXTURE),
                             "--out", str(out), "--max-steps", "3", "--json"] + TINY)
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["steps"] == 3
    code, stdout, err = run(["evaluate", "--backend", "strict", "--checkpoint", str(out), "--json"])
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["ppl"] > 1.0
