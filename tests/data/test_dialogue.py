"""The dialogue loader: (context -> response) pairs, the window of turns, the split by
conversation, and the one-line errors (package missing, file not in the corpus's format)."""

import json
import sys
from pathlib import Path

import pytest

from minis2s.data import MosesLikeTokenizer
from minis2s.data.dialogue import (
    SEP,
    context,
    conversation_pairs,
    load_conversations,
    load_dialogue,
    split_conversations,
)
from minis2s.errors import DataError, UserError

FIXTURE = Path(__file__).resolve().parents[2] / "datasets" / "fixtures" / "chitchat.json"


def test_a_turn_is_one_message_group_and_its_texts_are_joined():
    conversations = load_conversations(FIXTURE)
    assert len(conversations) == 12
    assert conversations[0][:2] == ["Hi there How are you?", "Im good thanks"]
    assert conversations[4][2] == "Same here I could eat it every day"


def test_pairs_are_each_turn_after_the_first_with_the_previous_turns_as_context():
    conv = [["a", "b"], ["c"], ["d", "e"], ["f"]]
    pairs = conversation_pairs(conv, turns=2, max_context=50, max_response=30)
    assert pairs == [(["a", "b"], ["c"]),
                     (["a", "b", SEP, "c"], ["d", "e"]),
                     (["c", SEP, "d", "e"], ["f"])]


def test_the_window_holds_turns_previous_turns_and_its_last_max_context_tokens():
    conv = [["a"], ["b"], ["c", "d"], ["e"]]
    assert conversation_pairs(conv, turns=1, max_context=50, max_response=30)[-1] == (["c", "d"], ["e"])
    assert conversation_pairs(conv, turns=3, max_context=50, max_response=30)[-1] == (
        ["a", SEP, "b", SEP, "c", "d"], ["e"])
    assert context(conv[:3], turns=3, max_context=3) == [SEP, "c", "d"]
    assert conversation_pairs(conv, turns=1, max_context=50, max_response=1) == [
        (["a"], ["b"]), (["c", "d"], ["e"])]  # the two-token response is left out


def test_loaded_pairs_are_tokenized_and_lower_cased_like_the_rest():
    data = load_dialogue(FIXTURE, turns=1, held_out=0.1)
    every_pair = data.train + data.val + data.test
    assert (["do", "you", "like", "music", "?"], ["yes", "i", "love", "rock", "music"]) in every_pair
    assert all(t == t.lower() for c, r in every_pair for t in c + r)
    assert sum(len(c) - 1 for c in load_conversations(FIXTURE)) == len(every_pair)


def test_the_split_is_by_conversation_deterministic_and_disjoint():
    a = split_conversations(100, seed=0, held_out=0.1)
    assert a == split_conversations(100, seed=0, held_out=0.1)
    assert a != split_conversations(100, seed=1, held_out=0.1)
    train, val, test = map(set, a)
    assert len(val) == len(test) == 10 and len(train) == 80
    assert not (train & val or train & test or val & test) and train | val | test == set(range(100))
    # each split holds exactly the pairs of its conversations: no turn of a held-out
    # conversation reaches training, not even as context
    conversations = load_conversations(FIXTURE)
    data = load_dialogue(FIXTURE, turns=2, held_out=0.1, seed=5)
    tok = MosesLikeTokenizer("en")

    def pairs_of(indices):
        return [p for i in indices
                for p in conversation_pairs([tok.tokenize(t) for t in conversations[i]], 2, 50, 30)]

    train_idx, val_idx, test_idx = split_conversations(len(conversations), seed=5, held_out=0.1)
    assert (data.train, data.val, data.test) == (pairs_of(train_idx), pairs_of(val_idx), pairs_of(test_idx))
    assert data.val and data.test


def test_missing_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "chitchat_dataset", None)  # import fails as if not installed
    with pytest.raises(UserError) as info:
        load_conversations()
    message = str(info.value)
    assert "\n" not in message and "chitchat-dataset" in message and "'.[dialogue]'" in message


def test_files_not_in_the_corpus_format_are_one_line_data_errors(tmp_path):
    with pytest.raises(DataError, match="no dialogue corpus at"):
        load_conversations(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="is not a JSON dialogue corpus"):
        load_conversations(bad)
    bad.write_text(json.dumps({"c1": {"turns": []}}))
    with pytest.raises(DataError, match="conversation 'c1' is not in the chitchat format"):
        load_conversations(bad)
    bad.write_text(json.dumps({"c1": {"messages": [[{"text": "hi"}]]}}))
    with pytest.raises(DataError, match="at least 3 conversations"):
        load_dialogue(bad)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "dataset.json").write_text(FIXTURE.read_text())
    assert load_conversations(folder) == load_conversations(FIXTURE)


def test_the_installed_package_is_read_through_its_own_api():
    chitchat_dataset = pytest.importorskip("chitchat_dataset")
    conversations = load_conversations()
    assert len(conversations) == len(chitchat_dataset.Dataset()) == 7168
    first = next(iter(chitchat_dataset.ConversationDataset()))
    assert conversations[0] == [t for t in first if t.strip()]
