"""The bAbI-style QA tasks: the world simulator's answers on hand-written stories, the generated
stories' sense, and a held-out set disjoint from training."""

import random

import pytest

from minis2s.data import make_splits, qa
from minis2s.data.qa import World
from minis2s.errors import UserError
from minis2s.tasks import toy_task


def answer(story: str, question: str) -> str:
    return World.after(s for s in story.split(".") if s.strip()).answer(question)


def test_where_is_a_person_is_their_last_move():
    story = "mary went to the kitchen . john moved to the garden . mary travelled to the office ."
    assert answer(story, "where is mary ?") == "office"
    assert answer(story, "where is john ?") == "garden"


def test_an_object_goes_where_its_carrier_goes_and_stays_where_it_is_dropped():
    story = ("john went to the kitchen . john picked up the football . john journeyed to the garden . "
             "mary moved to the hallway .")
    assert answer(story, "where is the football ?") == "garden"  # two facts: who has it, where they went
    story += " john dropped the football . john went to the office ."
    assert answer(story, "where is the football ?") == "garden"  # left behind
    story += " mary went to the garden . mary got the football . mary moved to the bedroom ."
    assert answer(story, "where is the football ?") == "bedroom"


def test_yes_no_compares_the_last_place():
    story = "sandra went to the bathroom . sandra moved to the hallway ."
    assert answer(story, "is sandra in the hallway ?") == "yes"
    assert answer(story, "is sandra in the bathroom ?") == "no"


def test_counting_follows_pickups_and_drops():
    story = ("daniel went to the kitchen . daniel got the apple . daniel grabbed the milk . "
             "daniel picked up the football .")
    assert answer(story, "how many objects is daniel carrying ?") == "three"
    assert answer(story + " daniel put down the milk .", "how many objects is daniel carrying ?") == "two"
    assert answer(story, "how many objects is mary carrying ?") == "none"


def test_the_simulator_refuses_what_the_story_does_not_allow_or_say():
    with pytest.raises(ValueError, match="does not have it"):
        answer("mary went to the kitchen . mary dropped the apple .", "where is mary ?")
    with pytest.raises(ValueError, match="john has it"):
        answer("john got the milk . mary got the milk .", "where is mary ?")
    with pytest.raises(ValueError, match="does not say"):
        answer("john went to the garden .", "where is mary ?")


@pytest.mark.parametrize("name", ["qa-1", "qa-2", "qa-3", "qa-4"])
def test_generated_stories_replay_to_their_answer(name):
    """Every generated input is the question, then sentences the simulator accepts, each ended
    by ``.``; replaying them gives the answer the generator stored."""
    train, _ = make_splits(name, 200, 0, seed=3)
    for src, tgt in train:
        question, story = src.split(" ? ")
        assert story.endswith(" .") and "?" not in story and len(tgt.split()) == 1
        assert answer(story, question) == tgt


def test_two_supporting_facts_are_needed_in_qa_2():
    """No sentence naming the object names a place: the answer is in a move of whoever carried
    it (a second sentence), and where that person is asked about the move is the last one."""
    train, _ = make_splits("qa-2", 500, 0, seed=0)
    for src, tgt in train:
        story = src.split(" ? ")[1].removesuffix(" .").split(" . ")
        obj = src.split("where is the ")[1].split()[0]
        assert all(tgt not in s for s in story if obj in s)
        carriers = {s.split()[0] for s in story if obj in s}
        assert any(s.split()[0] in carriers and s.endswith(tgt) for s in story)


def test_answers_are_spread_over_the_answer_set():
    train, _ = make_splits("qa-3", 1000, 0)
    yes = sum(t == "yes" for _, t in train)
    assert 400 < yes < 600
    train, _ = make_splits("qa-1", 1200, 0)
    assert {t for _, t in train} == set(qa.PLACES)


def test_held_out_stories_come_from_their_own_seed_and_never_occur_in_training():
    train, test = make_splits("qa-1", 3000, 500, seed=0, min_sentences=1, max_sentences=2)
    assert len(test) > 0 and not {s for s, _ in train} & {s for s, _ in test}
    again, _ = make_splits("qa-1", 3000, 0, seed=0, min_sentences=1, max_sentences=2)
    assert again == train  # deterministic
    # the held-out draw is not the training draw continued: a different seed's stream
    assert test[0] != train[0]


def test_qa_tasks_are_word_level():
    task = toy_task("qa-2", n_train=50, n_test=5)
    assert task.src_tokenizer.name == "whitespace"
    assert "." in task.src_vocab and "?" in task.src_vocab and "football" in task.src_vocab
    assert all(len(t) == 1 for _, t in task.test)


def test_unknown_task_and_bad_story_lengths_are_one_line_user_errors():
    with pytest.raises(UserError, match="unknown toy task 'qa-9'; choose one of .*qa-1"):
        toy_task("qa-9", n_train=5, n_test=5)
    with pytest.raises(UserError, match="min_sentences <= max_sentences"):
        make_splits("qa-1", 5, 5, min_sentences=4, max_sentences=2)


def test_the_generator_only_picks_up_objects_lying_where_the_person_is():
    rng, s = random.Random(0), {"min_sentences": 12, "max_sentences": 12}
    for _ in range(200):
        sentences, _ = qa._story(rng, s, moves_only=False)
        world = World()
        for sentence in sentences:
            words = sentence.split()
            if " ".join(words[1:-2]) in qa.GRAB:
                person, obj = words[0], words[-1]
                assert world.where.get(person) is not None
                assert world.lying.get(obj, world.where[person]) == world.where[person]
            world.tell(sentence)


def test_the_input_order_moves_the_question_and_keeps_the_story_and_the_answer():
    """The same draw in each order: the same sentences and answer, the question (with its ``?``)
    before the story, after it, or on both sides of it; an unknown order is one UserError line."""
    first, _ = make_splits("qa-2", 50, 0, seed=1)
    for order in qa.ORDERS:
        pairs, _ = make_splits("qa-2", 50, 0, seed=1, order=order)
        for (src, tgt), (plain, answer_) in zip(pairs, first):
            question, story = plain.split(" ? ")
            assert tgt == answer_
            expected = {"question-first": f"{question} ? {story}", "story-first": f"{story} {question} ?",
                        "question-both": f"{question} ? {story} {question} ?"}[order]
            assert src == expected
    with pytest.raises(UserError, match="unknown input order 'question-last'; choose one of question-first"):
        make_splits("qa-2", 5, 5, order="question-last")


def test_the_rationale_names_the_objects_last_handler_before_the_same_answer():
    """qa-2 with ``rationale=True``: the same stories, each target the subject of the last
    sentence that picks up or drops the object asked about, then the plain answer."""
    plain, _ = make_splits("qa-2", 300, 0, seed=2)
    reasoned, _ = make_splits("qa-2", 300, 0, seed=2, rationale=True)
    for (src, answer), (src_r, target) in zip(plain, reasoned):
        assert src == src_r
        question, story = src.split(" ? ")
        thing = question.split()[-1]
        handled = [s.split() for s in story.removesuffix(" .").split(" . ") if s.split()[-1] == thing]
        assert target.split() == [handled[-1][0], answer]
    with pytest.raises(UserError, match="has no option rationale"):
        make_splits("qa-1", 5, 0, rationale=True)
